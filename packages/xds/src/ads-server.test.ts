/**
 * What an ADS stream's caller gets back for requests it got wrong, and what the log says
 * when a stream ends, over a real gRPC server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_MAX_BUFFERED_BYTES } from './send-queue.ts';
import { TypeUrl } from './type-url.ts';
import { ADS_DELTA, ADS_SOTW, encoder, rawStream, startTestXdsServer, type TestXdsServer } from './testing/index.ts';

const encodeSotw = encoder('envoy.service.discovery.v3.DiscoveryRequest');
const encodeDelta = encoder('envoy.service.discovery.v3.DeltaDiscoveryRequest');
/** A length-delimited field whose length runs past the end of the message. */
const GARBAGE = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), 'condition reached within 2 s');
}

describe('AdsServer statuses', () => {
  let server: TestXdsServer;

  before(async () => {
    server = await startTestXdsServer();
  });

  after(() => server.close());

  for (const [variant, path] of [['SotW', ADS_SOTW], ['delta', ADS_DELTA]] as const) {
    it(`answers bytes that are not a request with INVALID_ARGUMENT (${variant}, first request)`, async () => {
      const stream = rawStream(server.client, path);
      stream.call.write(GARBAGE);
      const status = await stream.ended;
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(status.details, /^malformed (Delta)?DiscoveryRequest: /);
    });
  }

  it('ends a connected stream that sends a malformed request with INVALID_ARGUMENT, and logs why', async () => {
    const stream = rawStream(server.client, ADS_SOTW);
    stream.call.write(encodeSotw({ node: { id: 'malformed-later' }, type_url: TypeUrl.Cluster }));
    await until(() => server.ads.list().some((c) => c.proxy.id === 'malformed-later'));
    stream.call.write(GARBAGE);
    const status = await stream.ended;
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    await until(() => !server.ads.list().some((c) => c.proxy.id === 'malformed-later'));
    const line = server.logs.find((l) => l['msg'] === 'proxy disconnected' && l['node'] === 'malformed-later');
    assert.match(String(line?.['why']), /^stream error: INVALID_ARGUMENT: malformed DiscoveryRequest: /);
  });

  it('stops building for a client that does not read once about one response is buffered; other proxies are answered', async () => {
    // Unknown EDS names are answered (empty), so long names make big responses cheaply.
    const names = (round: number) => Array.from({ length: 500 }, (_, i) => `outbound|80||${'x'.repeat(1000)}-${round}-${i}.demo.svc.cluster.local`);
    // A connection of its own, as every proxy has: HTTP/2 flow control is per connection too.
    const own = new grpc.Client(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    const stuck = own.makeBidiStreamRequest(ADS_SOTW, (b: Buffer) => b, (b: Buffer) => b);
    stuck.on('error', () => undefined); // never reads: no 'data' listener
    const request = (round: number) =>
      encodeSotw({ node: { id: 'not-reading' }, type_url: TypeUrl.Endpoint, resource_names: names(round) });
    stuck.write(request(0));
    await until(() => server.ads.list().some((c) => c.proxy.id === 'not-reading'));
    const conn = server.ads.list().find((c) => c.proxy.id === 'not-reading');
    assert.ok(conn);
    let largest = 0;
    let mostBuffered = 0;
    const responseBytes = 500 * 1050;
    // The client's own buffers take the first responses (16 messages, then HTTP/2 windows).
    for (let round = 1; round <= 60 && !conn.isBlocked; round++) {
      stuck.write(request(round));
      await new Promise((r) => setTimeout(r, 5));
      largest = Math.max(largest, responseBytes);
      mostBuffered = Math.max(mostBuffered, conn.bufferedBytes);
    }
    assert.ok(conn.isBlocked, 'marked blocked');
    for (let round = 61; round <= 80; round++) {
      stuck.write(request(round));
      await new Promise((r) => setTimeout(r, 5));
      mostBuffered = Math.max(mostBuffered, conn.bufferedBytes);
    }
    assert.ok(mostBuffered <= DEFAULT_MAX_BUFFERED_BYTES + 2 * largest, `${mostBuffered} bytes buffered at most`);
    const other = rawStream(server.client, ADS_SOTW);
    other.call.write(encodeSotw({ node: { id: 'reading' }, type_url: TypeUrl.Cluster }));
    await until(() => other.responses.length > 0);
    other.call.cancel();
    stuck.cancel();
    own.close();
    await until(() => !server.ads.list().some((c) => c.proxy.id === 'not-reading'));
  });

  it('says in the disconnect log how a drained stream ended, not "[object Object]"', async () => {
    const sotw = rawStream(server.client, ADS_SOTW);
    sotw.call.write(encodeSotw({ node: { id: 'drained-sotw' }, type_url: TypeUrl.Cluster }));
    const delta = rawStream(server.client, ADS_DELTA);
    delta.call.write(encodeDelta({ node: { id: 'drained-delta' }, type_url: TypeUrl.Cluster }));
    await until(() => server.ads.list().length === 2);
    await server.ads.drain({ drainMs: 0, details: 'shutting down' });
    assert.equal((await sotw.ended).code, grpc.status.UNAVAILABLE);
    assert.equal((await delta.ended).code, grpc.status.UNAVAILABLE);
    const whys = server.logs.filter((l) => l['msg'] === 'proxy disconnected' && String(l['node']).startsWith('drained-')).map((l) => l['why']);
    assert.deepEqual(whys, ['stream error: UNAVAILABLE: shutting down', 'stream error: UNAVAILABLE: shutting down']);
  });
});
