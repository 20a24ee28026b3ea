/**
 * What a client that rejects responses, or claims a huge node id, costs the server: log
 * lines, stored text and what CSDS returns, over a real gRPC server (both ADS variants).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { MAX_NODE_ID_LENGTH } from './ads-server.ts';
import { MAX_NACK_MESSAGE_LENGTH } from './nack-log.ts';
import { TypeUrl, type TypeUrl as TypeUrlType } from './type-url.ts';
import { ADS_DELTA, ADS_SOTW, CSDS_FETCH, decoder, encoder, rawStream, startTestXdsServer, unaryStatus, type TestXdsServer } from './testing/index.ts';

const encodeSotw = encoder('envoy.service.discovery.v3.DiscoveryRequest');
const encodeDelta = encoder('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const decodeSotw = decoder('envoy.service.discovery.v3.DiscoveryResponse');
const decodeDelta = decoder('envoy.service.discovery.v3.DeltaDiscoveryResponse');
const encodeCsds = encoder('envoy.service.status.v3.ClientStatusRequest');
const decodeCsds = decoder('envoy.service.status.v3.ClientStatusResponse');

/** The short interval, for the test that waits one out. */
const INTERVAL_MS = 300;
/**
 * The flood tests' interval: long enough that 2,000 NACKs always arrive within one, even on
 * a busy machine (at 300 ms they sometimes spanned three), short enough to wait one out.
 */
const FLOOD_INTERVAL_MS = 2500;
const NACKS = 2000;

async function until(condition: () => boolean, what: string, seconds = 5): Promise<void> {
  for (let i = 0; i < seconds * 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), `${what} within ${seconds} s`);
}

describe('NACKs and node ids from clients', () => {
  let server: TestXdsServer;
  let flood: TestXdsServer;
  const nacks = new Map<string, number>();
  const onNack = (c: { proxy: { id: string } }) => nacks.set(c.proxy.id, (nacks.get(c.proxy.id) ?? 0) + 1);

  before(async () => {
    server = await startTestXdsServer({ nackLogIntervalMs: INTERVAL_MS, hooks: { onNack } });
    flood = await startTestXdsServer({ nackLogIntervalMs: FLOOD_INTERVAL_MS, hooks: { onNack } });
  });

  after(() => {
    server.close();
    flood.close();
  });

  const linesIn = (s: TestXdsServer, node: string) => s.logs.filter((l) => l['node'] === node && String(l['msg']).startsWith('proxy rejected config'));
  const linesFor = (node: string) => linesIn(server, node);

  for (const variant of ['SotW', 'delta'] as const) {
    it(`logs ${NACKS} NACKs of one type as one line and one count per interval, counts every one, and keeps a capped message (${variant})`, async () => {
      const node = `nack-loop-${variant}`;
      const stream = rawStream(flood.client, variant === 'SotW' ? ADS_SOTW : ADS_DELTA);
      const type: TypeUrlType = TypeUrl.Endpoint;
      const name = 'outbound|80||unknown.demo.svc.cluster.local';
      stream.call.write(
        variant === 'SotW'
          ? encodeSotw({ node: { id: node }, type_url: type, resource_names: [name] })
          : encodeDelta({ node: { id: node }, type_url: type, resource_names_subscribe: [name] }),
      );
      await until(() => stream.responses.length > 0, 'first response');
      const first = stream.responses[0];
      assert.ok(first);
      const nonce = String((variant === 'SotW' ? decodeSotw(first) : decodeDelta(first))['nonce']);
      const huge = 'E'.repeat(100_000);
      for (let i = 0; i < NACKS; i++) {
        const error_detail = { code: 3, message: i === NACKS - 1 ? huge : `rejected ${i}` };
        stream.call.write(
          variant === 'SotW'
            ? encodeSotw({ type_url: type, resource_names: [name], response_nonce: nonce, error_detail })
            : encodeDelta({ type_url: type, response_nonce: nonce, error_detail }),
        );
      }
      await until(() => nacks.get(node) === NACKS, `${NACKS} NACKs counted by the hook`);
      assert.equal(linesIn(flood, node).length, 1, 'the first NACK is logged, the rest only counted');
      assert.equal(linesIn(flood, node)[0]?.['message'], 'rejected 0');

      const conn = flood.ads.list().find((c) => c.proxy.id === node);
      const stored = conn?.watches.get(type)?.lastNack?.message ?? '';
      assert.ok(stored.startsWith('E'.repeat(MAX_NACK_MESSAGE_LENGTH)), 'the start of the message is kept');
      assert.ok(stored.length < MAX_NACK_MESSAGE_LENGTH + 100, `stored message capped (${stored.length})`);
      assert.match(stored, /\[truncated: 100000 characters\]$/);

      const csds = await unaryStatus(flood.client, CSDS_FETCH, encodeCsds({ node_matchers: [{ node_id: { exact: node } }] }));
      assert.equal(csds.code, grpc.status.OK);
      assert.ok(csds.response);
      const details = JSON.stringify(decodeCsds(csds.response));
      assert.match(details, /\[truncated: 100000 characters\]/);
      assert.ok(!details.includes('E'.repeat(MAX_NACK_MESSAGE_LENGTH + 1)), 'CSDS carries the capped message only');

      await until(() => linesIn(flood, node).length === 2, 'a summary line at the end of the interval', 10);
      const summary = linesIn(flood, node)[1];
      assert.equal(summary?.['suppressed'], NACKS - 1);
      assert.equal(String(summary?.['lastMessage']).length, stored.length);
      stream.call.cancel();
    });
  }

  it('logs the next NACK in full once the interval has passed', async () => {
    const node = 'nack-later';
    const stream = rawStream(server.client, ADS_SOTW);
    stream.call.write(encodeSotw({ node: { id: node }, type_url: TypeUrl.Cluster }));
    await until(() => stream.responses.length > 0, 'first response');
    const nonce = String(decodeSotw(stream.responses[0] ?? Buffer.alloc(0))['nonce']);
    const nack = (message: string) => stream.call.write(encodeSotw({ type_url: TypeUrl.Cluster, response_nonce: nonce, error_detail: { code: 3, message } }));
    nack('one');
    await until(() => linesFor(node).length === 1, 'first NACK logged');
    await new Promise((r) => setTimeout(r, INTERVAL_MS + 100));
    nack('two');
    await until(() => linesFor(node).length === 2, 'second NACK logged');
    assert.deepEqual(linesFor(node).map((l) => l['message']), ['one', 'two'], 'no summary for an interval with nothing suppressed');
    stream.call.cancel();
  });

  for (const [variant, path, encode] of [['SotW', ADS_SOTW, encodeSotw], ['delta', ADS_DELTA, encodeDelta]] as const) {
    it(`refuses a node id longer than ${MAX_NODE_ID_LENGTH} characters with INVALID_ARGUMENT (${variant})`, async () => {
      const stream = rawStream(server.client, path);
      stream.call.write(encode({ node: { id: 'n'.repeat(MAX_NODE_ID_LENGTH + 1) }, type_url: TypeUrl.Cluster }));
      const status = await stream.ended;
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(status.details, `node.id is ${MAX_NODE_ID_LENGTH + 1} characters; at most ${MAX_NODE_ID_LENGTH} are accepted`);
      assert.ok(!server.ads.list().some((c) => c.proxy.id.length > MAX_NODE_ID_LENGTH));
    });
  }

  it('accepts a node id of exactly the limit', async () => {
    const stream = rawStream(server.client, ADS_SOTW);
    stream.call.write(encodeSotw({ node: { id: 'm'.repeat(MAX_NODE_ID_LENGTH) }, type_url: TypeUrl.Cluster }));
    await until(() => stream.responses.length > 0, 'a response');
    stream.call.cancel();
  });

  it('refuses CSDS node ids and node_id patterns past the limit, and too many matchers, with INVALID_ARGUMENT', async () => {
    const long = 'x'.repeat(MAX_NODE_ID_LENGTH + 1);
    const cases: Array<[object, RegExp]> = [
      [{ node: { id: long } }, /^node\.id is 4097 characters/],
      [{ node_matchers: [{ node_id: { prefix: long } }] }, /^node_matchers\[0\]\.node_id: pattern is 4097 characters/],
      [{ node_matchers: [{ node_id: { exact: 'a' } }, { node_id: { contains: long } }] }, /^node_matchers\[1\]\.node_id: pattern/],
      [{ node_matchers: Array.from({ length: 65 }, () => ({ node_id: { exact: 'a' } })) }, /^65 node_matchers; at most 64/],
    ];
    for (const [request, details] of cases) {
      const status = await unaryStatus(server.client, CSDS_FETCH, encodeCsds(request));
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(status.details, details);
    }
  });
});
