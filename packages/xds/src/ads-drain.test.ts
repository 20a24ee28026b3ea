import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '@meridian/model';
import { AdsServer } from './ads-server.ts';
import { MeshResources } from './mesh-resources.ts';
import { protoType } from './protos.ts';
import { StaticDiscovery } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

const SOTW = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

interface Opened {
  /** Resolves once the stream got its first response: the server holds it as a connection. */
  readonly answered: Promise<void>;
  /** Resolves with the status the stream ended with. */
  readonly ended: Promise<number>;
}

/** Real gRPC ADS streams (one channel) that subscribe to CDS and then wait for their status. */
function openStreams(client: grpc.Client, n: number): Opened[] {
  const request = protoType('envoy.service.discovery.v3.DiscoveryRequest');
  return Array.from({ length: n }, (_, i) => {
    const call = client.makeBidiStreamRequest(SOTW, (v: object) => Buffer.from(request.encode(request.fromObject(v)).finish()), (b: Buffer) => b);
    call.write({ node: { id: `drain-${i}` }, type_url: TypeUrl.Cluster });
    return {
      answered: new Promise<void>((resolve) => call.once('data', () => resolve())),
      ended: new Promise<number>((resolve) => call.on('error', (err: grpc.ServiceError) => resolve(err.code))),
    };
  });
}

describe('AdsServer.drain', () => {
  const server = new grpc.Server();
  const ads = new AdsServer({
    source: new MeshResources({ discovery: new StaticDiscovery([], {}), domainSuffix: 'cluster.local', clusterLocalHosts: [] }),
    logger: silentLogger(),
    proxyDefaults: { cluster: 'east', networkOf: (c) => c },
    // The order the server ends streams in; the order clients observe their status in can
    // swap two ends a few milliseconds apart on a busy machine.
    hooks: { onDisconnect: (conn) => disconnected.push(conn.proxy.id) },
  });
  const disconnected: string[] = [];
  let client: grpc.Client;

  before(async () => {
    ads.addTo(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client.close();
    server.forceShutdown();
  });

  it('ends every stream with UNAVAILABLE, each at its random moment within the window', async () => {
    const streams = openStreams(client, 6);
    await Promise.all(streams.map((s) => s.answered));
    assert.equal(ads.list().length, 6);
    disconnected.length = 0;
    // Reverse order of draws: the last stream opened is told first.
    const draws = streams.map((_, i) => (streams.length - 1 - i) / streams.length);
    const started = performance.now();
    const drained = await ads.drain({ drainMs: 100, random: () => draws.shift() ?? 0 });
    const elapsed = performance.now() - started;
    const codes = await Promise.all(streams.map((s) => s.ended));
    assert.equal(drained, 6);
    assert.deepEqual(codes, Array.from({ length: 6 }, () => grpc.status.UNAVAILABLE));
    assert.deepEqual(disconnected, ['drain-5', 'drain-4', 'drain-3', 'drain-2', 'drain-1', 'drain-0']);
    assert.ok(elapsed >= 70 && elapsed < 2000, `spread over the 100 ms window (${Math.round(elapsed)} ms)`);
    assert.equal(ads.list().length, 0, 'every connection is gone');
  });

  it('does not spread a handful of streams over the whole drain period', async () => {
    const streams = openStreams(client, 2);
    await Promise.all(streams.map((s) => s.answered));
    const started = performance.now();
    assert.equal(await ads.drain({ drainMs: 60_000, random: () => 0.99 }), 2);
    assert.ok(performance.now() - started < 1000, '20 ms per stream at most');
    await Promise.all(streams.map((s) => s.ended));
  });
});
