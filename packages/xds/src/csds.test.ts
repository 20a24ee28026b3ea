/**
 * CSDS node matchers and statuses over a real gRPC server: the matchers Envoy's
 * ClientStatusRequest allows, RE2 for `safe_regex` (never a backtracking RegExp), and the
 * status a caller gets for requests it got wrong.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { TypeUrl } from './type-url.ts';
import {
  ADS_SOTW,
  CSDS_FETCH,
  CSDS_STREAM,
  decoder,
  encoder,
  rawStream,
  startTestXdsServer,
  unaryStatus,
  type TestXdsServer,
} from './testing/index.ts';

const encodeRequest = encoder('envoy.service.status.v3.ClientStatusRequest');
const decodeResponse = decoder('envoy.service.status.v3.ClientStatusResponse');
const encodeDiscovery = encoder('envoy.service.discovery.v3.DiscoveryRequest');

/** A node id that takes a backtracking engine about 4 s × 2^10 to test against `(a+)+b`. */
const EVIL_ID = 'a'.repeat(40);
const SIDECAR_ID = 'sidecar~10.0.0.7~a.demo~demo.svc.cluster.local';

async function fetch(server: TestXdsServer, request: object): Promise<{ code: number; details: string; ids: string[] }> {
  const result = await unaryStatus(server.client, CSDS_FETCH, encodeRequest(request));
  const config = result.response ? (decodeResponse(result.response)['config'] as Array<{ node: { id: string } }>) : [];
  return { code: result.code, details: result.details, ids: config.map((c) => c.node.id).sort() };
}

const byRegex = (regex: string) => ({ node_matchers: [{ node_id: { safe_regex: { regex } } }] });

describe('CSDS matchers and statuses', () => {
  let server: TestXdsServer;
  const streams: Array<grpc.ClientDuplexStream<Buffer, Buffer>> = [];

  before(async () => {
    server = await startTestXdsServer();
    for (const id of [EVIL_ID, SIDECAR_ID]) {
      const { call } = rawStream(server.client, ADS_SOTW);
      call.write(encodeDiscovery({ node: { id }, type_url: TypeUrl.Listener }));
      streams.push(call);
    }
    for (let i = 0; i < 100 && server.ads.list().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.ads.list().length, 2);
  });

  after(() => {
    for (const s of streams) s.cancel();
    server.close();
  });

  it('matches node ids by exact, prefix, suffix and contains, ORed', async () => {
    assert.deepEqual((await fetch(server, { node_matchers: [{ node_id: { exact: EVIL_ID } }] })).ids, [EVIL_ID]);
    assert.deepEqual((await fetch(server, { node_matchers: [{ node_id: { prefix: 'SIDECAR~', ignore_case: true } }] })).ids, [SIDECAR_ID]);
    const both = await fetch(server, { node_matchers: [{ node_id: { suffix: '.local' } }, { node_id: { contains: 'aaaa' } }] });
    assert.deepEqual(both.ids, [EVIL_ID, SIDECAR_ID].sort());
  });

  it('matches safe_regex with RE2 against the whole id', async () => {
    assert.deepEqual((await fetch(server, byRegex('sidecar~10\\.0\\.0\\.[0-9]+~.*'))).ids, [SIDECAR_ID]);
    assert.deepEqual((await fetch(server, byRegex('sidecar'))).ids, [], 'a full match, not a search');
  });

  it('refuses regex syntax RE2 does not have with INVALID_ARGUMENT and the reason', async () => {
    for (const regex of ['(a)\\1', 'sidecar~(?=10)', '[a-z]{200}']) {
      const result = await fetch(server, byRegex(regex));
      assert.equal(result.code, grpc.status.INVALID_ARGUMENT, regex);
      assert.match(result.details, /^node_matchers\[0\]\.node_id: /, regex);
    }
  });

  it('answers a catastrophic pattern for a backtracking engine at once: no proxy matches', async () => {
    const result = await fetch(server, byRegex('(a+)+b'));
    assert.equal(result.code, grpc.status.OK);
    assert.deepEqual(result.ids, []);
  });

  it('answers INVALID_ARGUMENT for bytes that are not a ClientStatusRequest, on both methods', async () => {
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const unary = await unaryStatus(server.client, CSDS_FETCH, garbage);
    assert.equal(unary.code, grpc.status.INVALID_ARGUMENT);
    assert.match(unary.details, /malformed ClientStatusRequest/);
    const stream = rawStream(server.client, CSDS_STREAM);
    stream.call.write(garbage);
    const status = await stream.ended;
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /malformed ClientStatusRequest/);
  });

  it('still answers node_metadatas matchers with UNIMPLEMENTED', async () => {
    const result = await fetch(server, { node_matchers: [{ node_metadatas: [{ path: [{ key: 'k' }], value: { null_match: {} } }] }] });
    assert.equal(result.code, grpc.status.UNIMPLEMENTED);
  });
});
