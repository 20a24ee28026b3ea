/**
 * Property tests over what any client may send, against a real gRPC server (both ADS
 * variants and CSDS): whatever the node, metadata, names, nonces, versions, type URLs or
 * matchers, the server answers, ends the stream with a status naming the caller's mistake,
 * or waits (an ACK needs no answer) — never INTERNAL or UNKNOWN, never a crash — and a
 * well-behaved client is still served afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { TypeUrl } from './type-url.ts';
import { ADS_DELTA, ADS_SOTW, CSDS_FETCH, encoder, rawStream, startTestXdsServer, unaryStatus, type TestXdsServer } from './testing/index.ts';

const encodeSotw = encoder('envoy.service.discovery.v3.DiscoveryRequest');
const encodeDelta = encoder('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const encodeCsds = encoder('envoy.service.status.v3.ClientStatusRequest');

/** Statuses that blame the server: none of them may come out of any request. */
const SERVER_FAULTS = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);
/** How long one request may take to be answered, refused or left waiting. */
const SETTLE_MS = 150;

/** A `google.protobuf.Struct` value as the wire form protobufjs encodes. */
const structValue: fc.Memo<object> = fc.memo((depth) =>
  depth <= 1
    ? fc.oneof(
        fc.string().map((s) => ({ string_value: s })),
        fc.double({ noNaN: true }).map((n) => ({ number_value: n })),
        fc.boolean().map((b) => ({ bool_value: b })),
        fc.constant({ null_value: 0 }),
      )
    : fc.oneof(
        structValue(1),
        fc.dictionary(fc.string({ maxLength: 12 }), structValue(depth - 1), { maxKeys: 4 }).map((fields) => ({ struct_value: { fields } })),
        fc.array(structValue(depth - 1), { maxLength: 4 }).map((values) => ({ list_value: { values } })),
      ),
);

const metadataKey = fc.oneof(fc.constantFrom('CLUSTER_ID', 'NETWORK', 'NAMESPACE', 'LABELS', 'SERVICE_ACCOUNT', 'INSTANCE_IPS', 'ISTIO_VERSION'), fc.string({ maxLength: 20 }));
const node = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('sidecar~10.0.0.1~a.b~b.svc.cluster.local', 'router~~~', '~~~~~~', 'sidecar~999.1.1.1~x.y~y.svc.cluster.local')),
    cluster: fc.string({ maxLength: 30 }),
    metadata: fc.dictionary(metadataKey, structValue(3), { maxKeys: 6 }).map((fields) => ({ fields })),
    locality: fc.record({ region: fc.string({ maxLength: 20 }), zone: fc.string({ maxLength: 20 }), sub_zone: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }),
    user_agent_name: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: ['id'] },
);
const typeUrl = fc.oneof(fc.constantFrom(...Object.values(TypeUrl)), fc.constantFrom('', 'type.googleapis.com/nope', 'type.googleapis.com/envoy.config.cluster.v3.Cluster '), fc.string({ maxLength: 60 }));
const resourceName = fc.oneof(
  fc.constantFrom('*', '', 'outbound|7070||echo.demo.svc.cluster.local', 'outbound|7070|v1|echo.demo.svc.cluster.local', 'inbound|8080||', 'echo.demo.svc.cluster.local:7070', 'default', 'ROOTCA', 'xdstp://x/y'),
  fc.string({ maxLength: 120 }),
);
const names = fc.array(resourceName, { maxLength: 30 });
const errorDetail = fc.option(fc.record({ code: fc.integer({ min: -5, max: 40 }), message: fc.string({ maxLength: 300 }) }), { nil: undefined });

const sotwRequest = fc.record(
  { node, type_url: typeUrl, resource_names: names, version_info: fc.string({ maxLength: 40 }), response_nonce: fc.string({ maxLength: 40 }), error_detail: errorDetail },
  { requiredKeys: ['type_url'] },
);
const deltaRequest = fc.record(
  {
    node,
    type_url: typeUrl,
    resource_names_subscribe: names,
    resource_names_unsubscribe: names,
    initial_resource_versions: fc.dictionary(resourceName, fc.string({ maxLength: 20 }), { maxKeys: 10 }),
    response_nonce: fc.string({ maxLength: 40 }),
    error_detail: errorDetail,
  },
  { requiredKeys: ['type_url'] },
);

/** Until the stream has an answer or an end, or SETTLE_MS passed (an ACK is left unanswered). */
async function settle(stream: { responses: Buffer[] }, ended: () => unknown): Promise<void> {
  for (let waited = 0; waited < SETTLE_MS && stream.responses.length === 0 && !ended(); waited += 5) await new Promise((r) => setTimeout(r, 5));
}

describe('ADS and CSDS take any request without a server fault', () => {
  let server: TestXdsServer;
  before(async () => {
    server = await startTestXdsServer({
      services: [
        {
          hostname: 'echo.demo.svc.cluster.local',
          name: 'echo',
          namespace: 'demo',
          ports: [{ name: 'grpc', port: 7070, protocol: 'TCP' }],
          clusters: ['east'],
          addresses: { east: ['10.96.0.10'] },
          serviceAccounts: [],
        },
      ],
    });
  });
  after(() => server.close());

  /** A proper client still gets its clusters: the server survived whatever came before. */
  async function stillServes(): Promise<void> {
    const stream = rawStream(server.client, ADS_SOTW);
    stream.call.write(encodeSotw({ node: { id: 'sidecar~10.0.0.2~ok.demo~demo.svc.cluster.local' }, type_url: TypeUrl.Cluster }));
    for (let i = 0; i < 200 && stream.responses.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    stream.call.cancel();
    assert.ok(stream.responses.length > 0, 'a well-formed client is answered');
  }

  for (const [variant, path, requests] of [
    ['SotW', ADS_SOTW, fc.array(sotwRequest.map(encodeSotw), { minLength: 1, maxLength: 4 })],
    ['delta', ADS_DELTA, fc.array(deltaRequest.map(encodeDelta), { minLength: 1, maxLength: 4 })],
  ] as const) {
    it(`${variant}: any sequence of requests is answered, refused as the caller's mistake, or left waiting`, async () => {
      await fc.assert(
        fc.asyncProperty(requests, async (frames) => {
          const stream = rawStream(server.client, path);
          let ended: { code: number; details: string } | undefined;
          void stream.ended.then((s) => (ended = s));
          for (const frame of frames) stream.call.write(frame);
          await settle(stream, () => ended);
          stream.call.cancel();
          if (ended) assert.ok(!SERVER_FAULTS.has(ended.code), `server fault ${grpc.status[ended.code]}: ${ended.details}`);
          if (ended && ended.code !== grpc.status.OK) assert.ok(ended.details.length > 0, 'a refusal says why');
        }),
        { numRuns: 60 },
      );
      await stillServes();
    });
  }

  it('bytes that are not a request: INVALID_ARGUMENT on ADS and CSDS', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const buffer = Buffer.from(bytes);
        const csds = await unaryStatus(server.client, CSDS_FETCH, buffer);
        assert.ok(!SERVER_FAULTS.has(csds.code), `CSDS: ${grpc.status[csds.code]} ${csds.details}`);
        const stream = rawStream(server.client, ADS_SOTW);
        let ended: { code: number; details: string } | undefined;
        void stream.ended.then((s) => (ended = s));
        stream.call.write(buffer);
        await settle(stream, () => ended);
        stream.call.cancel();
        if (ended) assert.ok(!SERVER_FAULTS.has(ended.code), `ADS: ${grpc.status[ended.code]} ${ended.details}`);
      }),
      { numRuns: 60 },
    );
    await stillServes();
  });

  it('CSDS: any node matchers, RE2 patterns included, give an answer or INVALID_ARGUMENT with a reason', async () => {
    const pattern = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('(a+)+b', '(?=x)', '[', 'a{1000}', '.*', '\\'));
    const stringMatcher = fc.oneof(
      pattern.map((exact) => ({ exact })),
      pattern.map((prefix) => ({ prefix })),
      pattern.map((suffix) => ({ suffix })),
      pattern.map((contains) => ({ contains })),
      pattern.map((regex) => ({ safe_regex: { regex } })),
      fc.constant({}),
    );
    const matcher = fc.record({ node_id: stringMatcher }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(matcher, { maxLength: 5 }), fc.option(node, { nil: undefined }), async (node_matchers, n) => {
        const status = await unaryStatus(server.client, CSDS_FETCH, encodeCsds({ node_matchers, ...(n ? { node: n } : {}) }));
        assert.ok(status.code === grpc.status.OK || status.code === grpc.status.INVALID_ARGUMENT, `${grpc.status[status.code]}: ${status.details}`);
        if (status.code !== grpc.status.OK) assert.ok(status.details.length > 0);
      }),
      { numRuns: 150 },
    );
  });
});
