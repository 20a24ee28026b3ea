/**
 * The state-of-the-world ADS protocol, case by case, with a hand-driven client against the
 * real server: per-type nonces, ACK/NACK, stale nonces, reconnects, subscription changes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@meridian/model';
import { parseConfig, startMeridian, type RunningMeridian } from '@meridian/server';
import { AdsTestClient, TypeUrls, type TestNode } from '@meridian/testkit';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { Workspace } from '../support/meridian-process.ts';

const ECHO = 'echo.demo.svc.cluster.local';
const ECHO_LISTENER = `${ECHO}:7070`;
const ECHO_CLUSTER = `outbound|7070||${ECHO}`;
const NODE: TestNode = { id: 'proto-client', locality: { region: 'r1' }, metadata: { CLUSTER_ID: 'c1' } };

function writeCluster(ws: Workspace, ready: boolean): void {
  writeFileSync(
    ws.path('c1', 'echo.yaml'),
    yamlDocs(
      node('n1', 'r1'),
      service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
      service('other', 'demo', [{ name: 'grpc', port: 8080 }]),
      endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.1', ready, node: 'n1' }]),
    ),
  );
}

describe('ADS state of the world', () => {
  const ws = new Workspace();
  let meridian: RunningMeridian;
  let address: string;
  const clients: AdsTestClient[] = [];
  const connect = (n: TestNode = NODE) => {
    const c = AdsTestClient.connect(address, n);
    clients.push(c);
    return c;
  };

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeCluster(ws, true);
    const file = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], debounce: { quietMs: 10, maxMs: 100 } });
    const config = parseConfig(readFileSync(file, 'utf8'), file);
    meridian = await startMeridian(config, silentLogger());
    address = `127.0.0.1:${meridian.xdsPort}`;
  });

  after(async () => {
    for (const c of clients) c.close();
    await meridian.stop();
    ws.remove();
  });

  it('answers the first request with the named resources and stays quiet after the ACK', async () => {
    const c = connect();
    c.send({ typeUrl: TypeUrls.Listener, names: [ECHO_LISTENER] });
    const r = await c.next();
    assert.equal(r.type_url, TypeUrls.Listener);
    assert.deepEqual(r.names, [ECHO_LISTENER]);
    assert.notEqual(r.nonce, '');
    assert.notEqual(r.version_info, '');
    c.ack(r, [ECHO_LISTENER]);
    assert.ok(await c.quiet(300), 'an ACK gets no response');
  });

  it('keeps nonces per type: an ACK of one type does not touch another', async () => {
    const c = connect();
    c.send({ typeUrl: TypeUrls.Listener, names: [ECHO_LISTENER] });
    c.send({ typeUrl: TypeUrls.Cluster, names: [ECHO_CLUSTER] });
    const first = await c.next();
    const second = await c.next();
    const lds = first.type_url === TypeUrls.Listener ? first : second;
    const cds = first.type_url === TypeUrls.Cluster ? first : second;
    assert.notEqual(lds.nonce, cds.nonce);
    c.ack(cds, [ECHO_CLUSTER]);
    c.ack(lds, [ECHO_LISTENER]);
    assert.ok(await c.quiet(300));
    const syncz = await syncFor('proto-client', meridian);
    assert.equal(syncz['LDS']?.acked.nonce, lds.nonce);
    assert.equal(syncz['CDS']?.acked.nonce, cds.nonce);
  });

  it('answers newly subscribed names even when the version did not change', async () => {
    const c = connect();
    const r1 = await c.requestAck(TypeUrls.Cluster, [ECHO_CLUSTER]);
    c.send({ typeUrl: TypeUrls.Cluster, names: [ECHO_CLUSTER, 'outbound|8080||other.demo.svc.cluster.local'], version: r1.version_info, nonce: r1.nonce });
    const r2 = await c.next();
    assert.deepEqual(r2.names.sort(), [ECHO_CLUSTER, 'outbound|8080||other.demo.svc.cluster.local']);
    assert.notEqual(r2.nonce, r1.nonce);
  });

  it('does not take a stale nonce as an ACK, but counts its names', async () => {
    const c = connect();
    c.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER] });
    const r1 = await c.next();
    // Subscribe to a second name before ACKing r1...
    c.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER, 'outbound|8080||other.demo.svc.cluster.local'], version: r1.version_info, nonce: r1.nonce });
    const r2 = await c.next();
    assert.deepEqual(r2.names, ['outbound|8080||other.demo.svc.cluster.local'], 'only the new name is sent');
    // ...then a request still carrying r1's nonce (stale) with a third name.
    c.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER, 'outbound|8080||other.demo.svc.cluster.local', 'outbound|9||none.demo.svc.cluster.local'], version: r1.version_info, nonce: r1.nonce });
    const r3 = await c.next();
    assert.deepEqual(r3.names, ['outbound|9||none.demo.svc.cluster.local']);
    // A stale request with unchanged names gets nothing.
    c.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER, 'outbound|8080||other.demo.svc.cluster.local', 'outbound|9||none.demo.svc.cluster.local'], version: r2.version_info, nonce: r2.nonce });
    assert.ok(await c.quiet(300));
    const sync = await syncFor('proto-client', meridian);
    assert.equal(sync['EDS']?.acked.nonce, r1.nonce, 'stale requests (nonces r1 and r2 after r3 went out) acknowledge nothing');
    assert.equal(sync['EDS']?.sent.nonce, r3.nonce);
    assert.equal(sync['EDS']?.subscribed.length, 3);
  });

  it('answers every EDS name, with an empty assignment for unknown ones', async () => {
    const c = connect();
    c.send({ typeUrl: TypeUrls.Endpoint, names: ['outbound|1||nowhere.demo.svc.cluster.local'] });
    const r = await c.next();
    assert.deepEqual(r.names, ['outbound|1||nowhere.demo.svc.cluster.local']);
    assert.deepEqual(r.resources[0]?.['endpoints'] ?? [], []);
  });

  it('gives a reconnecting client (version, empty nonce) the full state again, at the same version', async () => {
    const c1 = connect();
    const r1 = await c1.requestAck(TypeUrls.Listener, [ECHO_LISTENER]);
    c1.close();
    const c2 = connect();
    c2.send({ typeUrl: TypeUrls.Listener, names: [ECHO_LISTENER], version: r1.version_info });
    const r2 = await c2.next();
    assert.deepEqual(r2.names, [ECHO_LISTENER]);
    assert.equal(r2.version_info, r1.version_info, 'content-derived versions survive reconnects');
  });

  it('serves all listeners to a wildcard (empty names) LDS request', async () => {
    const c = connect();
    c.send({ typeUrl: TypeUrls.Listener, names: [] });
    const r = await c.next();
    assert.deepEqual(r.names.sort(), [ECHO_LISTENER, 'other.demo.svc.cluster.local:8080']);
  });

  it('records a NACK with its error and does not resend until the mesh changes', async () => {
    const c = connect({ ...NODE, id: 'nacker' });
    c.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER] });
    const r = await c.next();
    c.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER], version: '', nonce: r.nonce, error: { code: 14, message: 'endpoint rejected for testing' } });
    assert.ok(await c.quiet(400), 'no retry storm after a NACK');
    const sync = await syncFor('nacker', meridian);
    assert.equal(sync['EDS']?.lastNack?.message, 'endpoint rejected for testing');
    assert.equal(sync['EDS']?.lastNack?.nonce, r.nonce);

    writeCluster(ws, false); // the mesh changes: a new version is sent
    const next = await c.next(5000);
    assert.notEqual(next.version_info, r.version_info);
    writeCluster(ws, true);
    await c.next(5000);
  });

  it('pushes only endpoints when only endpoints change', async () => {
    const c = connect({ ...NODE, id: 'watcher' });
    const lds = await c.requestAck(TypeUrls.Listener, [ECHO_LISTENER]);
    const cds = await c.requestAck(TypeUrls.Cluster, [ECHO_CLUSTER]);
    const eds = await c.requestAck(TypeUrls.Endpoint, [ECHO_CLUSTER]);
    assert.ok(lds && cds);
    writeCluster(ws, false);
    const pushed = await c.next(5000);
    assert.equal(pushed.type_url, TypeUrls.Endpoint);
    const lb = (pushed.resources[0]?.['endpoints'] as Array<{ lb_endpoints: Array<{ health_status: string }> }>)[0]?.lb_endpoints[0];
    assert.equal(lb?.health_status, 'UNHEALTHY', 'a not-ready endpoint is never sent as healthy');
    assert.notEqual(pushed.version_info, eds.version_info);
    c.ack(pushed, [ECHO_CLUSTER]);
    assert.ok(await c.quiet(300), 'no LDS/CDS push for an endpoint change');
    // The push is timed: /debug/syncz and the push-time histogram say how long it took.
    const syncz = (await (await fetch(`http://127.0.0.1:${meridian.httpPort}/debug/syncz`)).json()) as { lastPush: { kind: string; durationMs: number } };
    assert.equal(syncz.lastPush.kind, 'endpoints');
    assert.ok(syncz.lastPush.durationMs >= 0 && syncz.lastPush.durationMs < 5000, `push took ${syncz.lastPush.durationMs} ms`);
    const metrics = await (await fetch(`http://127.0.0.1:${meridian.httpPort}/metrics`)).text();
    assert.match(metrics, /^meridian_xds_push_time_seconds_count\{kind="endpoints"\} [1-9]/m);
    writeCluster(ws, true);
    const back = await c.next(5000);
    assert.equal(back.version_info, eds.version_info, 'same content, same version');
  });

  it('removes a cluster only after the listeners that used it (make-before-break)', async () => {
    const c = connect({ ...NODE, id: 'remover' });
    await c.requestAck(TypeUrls.Cluster, []);
    await c.requestAck(TypeUrls.Listener, []);
    // `other` disappears from the cluster.
    writeFileSync(
      ws.path('c1', 'echo.yaml'),
      yamlDocs(
        node('n1', 'r1'),
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.1', node: 'n1' }]),
      ),
    );
    const first = await c.next(5000);
    assert.equal(first.type_url, TypeUrls.Listener, 'listeners are updated first');
    assert.deepEqual(first.names, [ECHO_LISTENER]);
    c.ack(first, []);
    const second = await c.next(5000);
    assert.equal(second.type_url, TypeUrls.Cluster, 'then the cluster goes');
    assert.deepEqual(second.names, [ECHO_CLUSTER]);
    c.ack(second, []);
    writeCluster(ws, true);
    const back = await c.next(5000);
    assert.equal(back.type_url, TypeUrls.Cluster, 'an added cluster comes before the listener that uses it');
    await c.next(5000);
  });

  it('rejects a stream whose first request has no node', async () => {
    const c = connect({ id: '' });
    c.send({ typeUrl: TypeUrls.Listener, names: [ECHO_LISTENER] });
    await assert.rejects(c.next(3000), /node/);
  });
});

type SyncTypes = Record<
  string,
  {
    subscribed: string[];
    sent: { nonce: string | null };
    acked: { nonce: string | null };
    lastNack: { message: string; nonce: string } | null;
  }
>;

/** /debug/syncz for one node, read after the server processed everything the client sent. */
async function syncFor(nodeId: string, meridian: RunningMeridian): Promise<SyncTypes> {
  await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(`http://127.0.0.1:${meridian.httpPort}/debug/syncz?proxy=${encodeURIComponent(nodeId)}`);
  const body = (await res.json()) as { proxies: Array<{ types: SyncTypes }> };
  const last = body.proxies.at(-1);
  assert.ok(last, `proxy ${nodeId} connected`);
  return last.types;
}
