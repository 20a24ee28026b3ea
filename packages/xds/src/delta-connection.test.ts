import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, hostnameKeys, silentLogger, type PushRequest } from '@meridian/model';
import type { DeltaRequestView } from './classify-delta.ts';
import { DeltaAdsConnection } from './delta-connection.ts';
import { protoType } from './protos.ts';
import { CapturingStream, TableSource, TEST_PROXY } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

interface Sent {
  type_url: string;
  nonce: string;
  names: string[];
  versions: string[];
  removed: string[];
}

/** What the connection wrote, decoded as a client would. */
class FakeStream extends CapturingStream {
  get sent(): Sent[] {
    const type = protoType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    return this.written.map((chunk) => {
      const r = type.toObject(type.decode(chunk), { defaults: true }) as {
        type_url: string;
        nonce: string;
        resources: Array<{ name: string; version: string }>;
        removed_resources: string[];
      };
      return {
        type_url: r.type_url,
        nonce: r.nonce,
        names: r.resources.map((x) => x.name),
        versions: r.resources.map((x) => x.version),
        removed: r.removed_resources,
      };
    });
  }
}

const req = (r: Partial<DeltaRequestView>): DeltaRequestView => ({
  resource_names_subscribe: [],
  resource_names_unsubscribe: [],
  response_nonce: '',
  ...r,
});
const push = (...hostnames: string[]): PushRequest => ({ kind: 'full', configs: hostnameKeys(ConfigKind.Service, hostnames), reasons: ['test'] });

function setup() {
  const source = new TableSource();
  source.set(TypeUrl.Cluster, 'a', '1');
  source.set(TypeUrl.Cluster, 'b', '1');
  source.set(TypeUrl.Endpoint, 'a', '1');
  source.set(TypeUrl.Endpoint, 'b', '1');
  source.set(TypeUrl.Listener, 'l', '1');
  const stream = new FakeStream();
  const conn = new DeltaAdsConnection({ id: 'c', proxy: TEST_PROXY, stream, source, logger: silentLogger(), maxBufferedBytes: 1 });
  return { source, stream, conn };
}

describe('DeltaAdsConnection', () => {
  it('sends only what differs from what the client has, and removals', () => {
    const { source, stream, conn } = setup();
    conn.handleRequest(TypeUrl.Cluster, req({}));
    conn.handleRequest(TypeUrl.Endpoint, req({ resource_names_subscribe: ['a', 'b'] }));
    assert.deepEqual(
      stream.sent.map((s) => [s.type_url, s.names.sort()]),
      [
        [TypeUrl.Cluster, ['a', 'b']],
        [TypeUrl.Endpoint, ['a', 'b']],
      ],
    );
    source.set(TypeUrl.Endpoint, 'b', '2');
    source.set(TypeUrl.Cluster, 'a', undefined);
    conn.push(push());
    assert.deepEqual(stream.sent.slice(2), [
      { type_url: TypeUrl.Cluster, nonce: stream.sent[2]?.nonce, names: [], versions: [], removed: ['a'] },
      { type_url: TypeUrl.Endpoint, nonce: stream.sent[3]?.nonce, names: ['b'], versions: ['b@2'], removed: [] },
    ]);
    conn.push(push());
    assert.equal(stream.sent.length, 4, 'nothing changed: nothing sent');
  });

  it('keeps memory bounded while the stream does not drain: one merged push, in make-before-break order', () => {
    const { source, stream, conn } = setup();
    conn.handleRequest(TypeUrl.Listener, req({}));
    conn.handleRequest(TypeUrl.Cluster, req({}));
    conn.handleRequest(TypeUrl.Endpoint, req({ resource_names_subscribe: ['a'] }));
    const before = stream.sent.length;
    stream.writable = false;
    source.set(TypeUrl.Listener, 'l', '2');
    conn.push(push('l'));
    assert.equal(stream.sent.length, before + 1, 'the write that filled the buffer');
    assert.ok(conn.isBlocked);
    for (let i = 0; i < 1000; i++) {
      source.set(TypeUrl.Endpoint, 'a', String(i));
      source.set(TypeUrl.Cluster, 'b', String(i));
      conn.push(push('a', 'b'));
    }
    const generated = source.generated;
    assert.equal(stream.sent.length, before + 1, 'nothing written while blocked');
    assert.equal(source.generated, generated, 'nothing even built while blocked');
    stream.release();
    const after = stream.sent.slice(before + 1);
    assert.deepEqual(
      after.map((s) => [s.type_url, s.versions]),
      [
        [TypeUrl.Cluster, ['b@999']],
        [TypeUrl.Endpoint, ['a@999']],
      ],
      'only the latest state, clusters before endpoints',
    );
  });

  it('a held cluster removal that became moot does not stop the next removal from being held', () => {
    const { source, stream, conn } = setup();
    conn.handleRequest(TypeUrl.Listener, req({}));
    conn.handleRequest(TypeUrl.Cluster, req({}));
    // b is removed and the listener changes; the listener write blocks the stream, so the
    // follow-up CDS that would remove b waits, and meanwhile b comes back.
    stream.writable = false;
    source.set(TypeUrl.Cluster, 'b', undefined);
    source.set(TypeUrl.Listener, 'l', '2');
    conn.push(push('b', 'l'));
    source.set(TypeUrl.Cluster, 'b', '1');
    conn.push(push('b'));
    stream.release();
    const settled = stream.sent.length;
    // Now b goes for good, with another listener change: listeners first, then the removal.
    source.set(TypeUrl.Cluster, 'b', undefined);
    source.set(TypeUrl.Listener, 'l', '3');
    conn.push(push('b', 'l'));
    assert.deepEqual(
      stream.sent.slice(settled).map((s) => [s.type_url, s.names, s.removed]),
      [
        [TypeUrl.Listener, ['l'], []],
        [TypeUrl.Cluster, [], ['b']],
      ],
    );
  });

  it('reconnect: initial_resource_versions are honoured, gone names removed; (N)ACKs settle per response', () => {
    const { stream, conn } = setup();
    conn.handleRequest(TypeUrl.Cluster, req({ initial_resource_versions: { a: 'a@1', b: 'old', zz: 'v' } }));
    assert.deepEqual(stream.sent.map((s) => [s.names, s.removed]), [[['b'], ['zz']]]);
    const nonce = stream.sent[0]?.nonce ?? '';
    conn.handleRequest(TypeUrl.Cluster, req({ response_nonce: nonce, error_detail: { code: 3, message: 'no' } }));
    const w = conn.watches.get(TypeUrl.Cluster);
    assert.equal(w?.resources.get('a')?.state, 'acked', 'reported by the client');
    assert.equal(w?.resources.get('b')?.state, 'nacked');
    assert.equal(w?.lastNack?.message, 'no');
    assert.equal(w?.outstanding.size, 0);
    assert.equal(stream.sent.length, 1, 'a NACK is not answered');
  });

  it('unsubscribing forgets the name and sends nothing; re-subscribing sends it again', () => {
    const { stream, conn } = setup();
    conn.handleRequest(TypeUrl.Endpoint, req({ resource_names_subscribe: ['a', 'b'] }));
    conn.handleRequest(TypeUrl.Endpoint, req({ resource_names_unsubscribe: ['b'] }));
    assert.equal(stream.sent.length, 1);
    assert.deepEqual([...(conn.watches.get(TypeUrl.Endpoint)?.sentVersions.keys() ?? [])], ['a']);
    conn.handleRequest(TypeUrl.Endpoint, req({ resource_names_subscribe: ['a'] }));
    assert.deepEqual(stream.sent[1]?.names, ['a']);
  });

  it('gives streams that get the same change in a push one shared response, and versions by content, not order', () => {
    const source = new TableSource();
    source.set(TypeUrl.Endpoint, 'a', '1');
    source.set(TypeUrl.Endpoint, 'b', '1');
    const open = (id: string, names: string[]) => {
      const stream = new FakeStream();
      const conn = new DeltaAdsConnection({ id, proxy: TEST_PROXY, stream, source, logger: silentLogger() });
      for (const name of names) conn.handleRequest(TypeUrl.Endpoint, req({ resource_names_subscribe: [name] }));
      return { stream, conn };
    };
    // Subscribed in a different order: the same set, so the same version on both.
    const one = open('one', ['a', 'b']);
    const two = open('two', ['b', 'a']);
    const three = open('three', ['a']);
    const version = (c: { conn: DeltaAdsConnection }) => c.conn.watches.get(TypeUrl.Endpoint)?.lastVersion;
    assert.equal(version(one), version(two));
    assert.notEqual(version(one), version(three));

    source.set(TypeUrl.Endpoint, 'a', '2');
    const change = push('a');
    for (const c of [one, two, three]) c.conn.push(change);
    const last = (c: { stream: FakeStream }) => c.stream.written.at(-1);
    assert.equal(last(one), last(two), 'one buffer for equal responses');
    assert.notEqual(last(one), last(three), 'a stream that has another set gets its own');
    const sent = one.stream.sent.at(-1);
    assert.deepEqual([sent?.names, sent?.versions], [['a'], ['a@2']]);
    assert.equal(sent?.nonce, three.stream.sent.at(-1)?.nonce, 'the nonce names the push');
    assert.equal(version(one), version(two));

    // The shared nonce is each stream's own to acknowledge.
    one.conn.handleRequest(TypeUrl.Endpoint, req({ response_nonce: sent?.nonce ?? '' }));
    assert.equal(one.conn.watches.get(TypeUrl.Endpoint)?.resources.get('a')?.state, 'acked');
    assert.equal(two.conn.watches.get(TypeUrl.Endpoint)?.resources.get('a')?.state, 'sent');

    // A second response of the same type on a stream never reuses the push's nonce.
    source.set(TypeUrl.Endpoint, 'b', '2');
    one.conn.push(change);
    assert.notEqual(one.stream.sent.at(-1)?.nonce, sent?.nonce);
  });
});
