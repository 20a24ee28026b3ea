/**
 * The delta (incremental) ADS protocol, case by case, with a hand-driven client against the
 * real server: wildcard and explicit subscriptions, per-resource versions, reconnects with
 * initial_resource_versions, removals, NACKs, incremental EDS and push order.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@meridian/model';
import { parseConfig, startMeridian, type RunningMeridian } from '@meridian/server';
import { DeltaAdsTestClient, TypeUrls, type DeltaResponse, type TestNode } from '@meridian/testkit';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { Workspace } from '../support/meridian-process.ts';

const host = (name: string) => `${name}.demo.svc.cluster.local`;
const ECHO_CLUSTER = `outbound|7070||${host('echo')}`;
const OTHER_CLUSTER = `outbound|8080||${host('other')}`;
const ECHO_LISTENER = `${host('echo')}:7070`;
const OTHER_LISTENER = `${host('other')}:8080`;
const NODE: TestNode = { id: 'delta-client', locality: { region: 'r1' }, metadata: { CLUSTER_ID: 'c1' } };

interface Mesh {
  echoReady?: boolean;
  other?: boolean;
  third?: boolean;
}

function writeCluster(ws: Workspace, mesh: Mesh = {}): void {
  const { echoReady = true, other = true, third = false } = mesh;
  writeFileSync(
    ws.path('c1', 'mesh.yaml'),
    yamlDocs(
      node('n1', 'r1'),
      service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
      endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.1', ready: echoReady, node: 'n1' }]),
      ...(other
        ? [
            service('other', 'demo', [{ name: 'grpc', port: 8080 }]),
            endpointSlice('other-1', 'demo', 'other', { name: 'grpc', port: 18080 }, [{ address: '10.0.0.2', node: 'n1' }]),
          ]
        : []),
      ...(third ? [service('third', 'demo', [{ name: 'grpc', port: 9090 }])] : []),
    ),
  );
}

const versions = (r: DeltaResponse) => Object.fromEntries(r.resources.map((x) => [x.name, x.version]));

describe('ADS delta (incremental)', () => {
  const ws = new Workspace();
  let meridian: RunningMeridian;
  let address: string;
  const clients: DeltaAdsTestClient[] = [];
  const connect = (n: TestNode = NODE) => {
    const c = DeltaAdsTestClient.connect(address, n);
    clients.push(c);
    return c;
  };

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeCluster(ws);
    const file = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], debounce: { quietMs: 10, maxMs: 100 } });
    meridian = await startMeridian(parseConfig(readFileSync(file, 'utf8'), file), silentLogger());
    address = `127.0.0.1:${meridian.xdsPort}`;
  });

  after(async () => {
    for (const c of clients) c.close();
    await meridian.stop();
    ws.remove();
  });

  it('answers an initial CDS request with no names as a wildcard, each resource with its own version', async () => {
    const c = connect();
    c.send({ typeUrl: TypeUrls.Cluster });
    const r = await c.next();
    assert.equal(r.type_url, TypeUrls.Cluster);
    assert.deepEqual(r.names.sort(), [ECHO_CLUSTER, OTHER_CLUSTER]);
    assert.deepEqual(r.removed_resources, []);
    assert.notEqual(r.nonce, '');
    for (const x of r.resources) {
      assert.notEqual(x.version, '');
      assert.equal(x.resource['name'], x.name);
    }
    assert.notEqual(r.resources[0]?.version, r.resources[1]?.version, 'versions are per resource');
    c.ack(r);
    assert.ok(await c.quiet(300), 'an ACK gets no response');
    const sync = await syncFor('delta-client', meridian);
    assert.equal(sync.variant, 'delta');
    assert.equal(sync.types['CDS']?.subscribed, '*');
    assert.equal(sync.types['CDS']?.acked.nonce, r.nonce);
    assert.equal(sync.types['CDS']?.synced, true);
  });

  it('subscribes and unsubscribes EDS names explicitly; unknown EDS names get an empty assignment', async () => {
    const c = connect({ ...NODE, id: 'eds-sub' });
    const r1 = await c.subscribeAck(TypeUrls.Endpoint, [ECHO_CLUSTER]);
    assert.deepEqual(r1.names, [ECHO_CLUSTER]);
    const r2 = await c.subscribeAck(TypeUrls.Endpoint, [OTHER_CLUSTER]);
    assert.deepEqual(r2.names, [OTHER_CLUSTER], 'only the new name is sent');
    assert.notEqual(r2.nonce, r1.nonce);

    c.send({ typeUrl: TypeUrls.Endpoint, unsubscribe: [OTHER_CLUSTER] });
    assert.ok(await c.quiet(300), 'unsubscribing sends nothing');
    const sync = await syncFor('eds-sub', meridian);
    assert.deepEqual(sync.types['EDS']?.subscribed, [ECHO_CLUSTER]);

    const nowhere = `outbound|1||${host('nowhere')}`;
    const r3 = await c.subscribeAck(TypeUrls.Endpoint, [nowhere]);
    assert.deepEqual(r3.names, [nowhere]);
    assert.deepEqual(r3.resources[0]?.resource['endpoints'] ?? [], []);

    c.send({ typeUrl: TypeUrls.Endpoint, subscribe: [ECHO_CLUSTER] });
    const again = await c.next();
    assert.deepEqual(again.names, [ECHO_CLUSTER], 're-subscribing is answered even though unchanged');
    assert.equal(again.resources[0]?.version, r1.resources[0]?.version);
  });

  it('sends nothing for a subscribed listener until it exists, and nothing after unsubscribing', async () => {
    const c = connect({ ...NODE, id: 'lds-missing' });
    const thirdListener = `${host('third')}:9090`;
    c.send({ typeUrl: TypeUrls.Listener, subscribe: [thirdListener] });
    assert.ok(await c.quiet(300), 'no response for a name that does not exist');
    writeCluster(ws, { third: true });
    const r = await c.next(5000);
    assert.deepEqual(r.names, [thirdListener], 'sent once it exists');
    c.ack(r);
    c.send({ typeUrl: TypeUrls.Listener, unsubscribe: [thirdListener] });
    writeCluster(ws);
    assert.ok(await c.quiet(500), 'no removal for a name no longer subscribed');
    const sync = await syncFor('lds-missing', meridian);
    assert.deepEqual(sync.types['LDS']?.subscribed, []);
  });

  it('on reconnect with initial_resource_versions sends only what differs, and removes what is gone', async () => {
    const c1 = connect({ ...NODE, id: 'reconnect' });
    c1.send({ typeUrl: TypeUrls.Cluster });
    const cds = await c1.next();
    c1.ack(cds);
    const eds = await c1.subscribeAck(TypeUrls.Endpoint, [ECHO_CLUSTER, OTHER_CLUSTER]);
    c1.close();

    const c2 = connect({ ...NODE, id: 'reconnect' });
    const gone = `outbound|9||${host('gone')}`;
    c2.send({
      typeUrl: TypeUrls.Cluster,
      initialVersions: { ...versions(cds), [OTHER_CLUSTER]: 'outdated', [gone]: 'v-old' },
    });
    const cds2 = await c2.next();
    assert.deepEqual(cds2.names, [OTHER_CLUSTER], 'only the cluster whose version differs');
    assert.equal(cds2.resources[0]?.version, versions(cds)[OTHER_CLUSTER], 'same content, same version across streams');
    assert.deepEqual(cds2.removed_resources, [gone]);
    c2.ack(cds2);

    const edsVersions = versions(eds);
    c2.send({
      typeUrl: TypeUrls.Endpoint,
      subscribe: [ECHO_CLUSTER, OTHER_CLUSTER],
      initialVersions: { [ECHO_CLUSTER]: edsVersions[ECHO_CLUSTER] ?? '', [OTHER_CLUSTER]: 'outdated' },
    });
    const eds2 = await c2.next();
    assert.deepEqual(eds2.names, [OTHER_CLUSTER]);
    assert.equal(eds2.resources[0]?.version, edsVersions[OTHER_CLUSTER]);
    c2.ack(eds2);
    assert.ok(await c2.quiet(300));

    const c3 = connect({ ...NODE, id: 'reconnect-same' });
    c3.send({ typeUrl: TypeUrls.Cluster, initialVersions: versions(cds) });
    assert.ok(await c3.quiet(300), 'a client that has everything gets nothing');
  });

  it('records a NACK and does not resend the same resources', async () => {
    const c = connect({ ...NODE, id: 'delta-nacker' });
    c.send({ typeUrl: TypeUrls.Endpoint, subscribe: [ECHO_CLUSTER] });
    const r = await c.next();
    c.send({ typeUrl: TypeUrls.Endpoint, nonce: r.nonce, error: { code: 3, message: 'rejected for testing' } });
    assert.ok(await c.quiet(400), 'no retry storm after a NACK');
    const sync = await syncFor('delta-nacker', meridian);
    assert.equal(sync.types['EDS']?.lastNack?.message, 'rejected for testing');
    assert.equal(sync.types['EDS']?.lastNack?.nonce, r.nonce);
  });

  it('pushes only the ClusterLoadAssignments that changed on an endpoints change', async () => {
    const c = connect({ ...NODE, id: 'incremental-eds' });
    c.send({ typeUrl: TypeUrls.Cluster });
    c.ack(await c.next());
    const eds = await c.subscribeAck(TypeUrls.Endpoint, [ECHO_CLUSTER, OTHER_CLUSTER]);
    writeCluster(ws, { echoReady: false });
    const pushed = await c.next(5000);
    assert.equal(pushed.type_url, TypeUrls.Endpoint);
    assert.deepEqual(pushed.names, [ECHO_CLUSTER], 'only the changed assignment');
    assert.notEqual(pushed.resources[0]?.version, versions(eds)[ECHO_CLUSTER]);
    c.ack(pushed);
    assert.ok(await c.quiet(300), 'no CDS for an endpoints change');
    writeCluster(ws);
    const back = await c.next(5000);
    assert.deepEqual(back.names, [ECHO_CLUSTER]);
    assert.equal(back.resources[0]?.version, versions(eds)[ECHO_CLUSTER], 'same content, same version');
    c.ack(back);
  });

  it('sends removed_resources when a service disappears: the listener first, then its cluster (make-before-break)', async () => {
    const c = connect({ ...NODE, id: 'removals' });
    c.send({ typeUrl: TypeUrls.Cluster });
    c.ack(await c.next());
    await c.subscribeAck(TypeUrls.Listener, [ECHO_LISTENER, OTHER_LISTENER]);
    writeCluster(ws, { other: false });
    const first = await c.next(5000);
    const second = await c.next(5000);
    assert.deepEqual([first.type_url, second.type_url], [TypeUrls.Listener, TypeUrls.Cluster]);
    assert.deepEqual(first.removed_resources, [OTHER_LISTENER]);
    assert.deepEqual(second.removed_resources, [OTHER_CLUSTER]);
    assert.deepEqual(second.resources, []);
    c.ack(first);
    c.ack(second);
    assert.ok(await c.quiet(300));

    writeCluster(ws);
    const cds = await c.next(5000);
    const lds = await c.next(5000);
    assert.deepEqual(cds.names, [OTHER_CLUSTER], 'it comes back once it exists again');
    assert.deepEqual(lds.names, [OTHER_LISTENER], 'an explicit name that exists again is sent');
    c.ack(cds);
    c.ack(lds);
  });

  it('orders a push that touches several types make-before-break: CDS, EDS, LDS (RDS untouched)', async () => {
    const c = connect({ ...NODE, id: 'ordering' });
    c.send({ typeUrl: TypeUrls.Listener });
    c.ack(await c.next());
    c.send({ typeUrl: TypeUrls.Cluster });
    c.ack(await c.next());
    await c.subscribeAck(TypeUrls.Endpoint, [ECHO_CLUSTER]);
    await c.subscribeAck(TypeUrls.Route, [ECHO_LISTENER]);
    assert.ok(await c.quiet(200));

    writeCluster(ws, { echoReady: false, third: true });
    const got: DeltaResponse[] = [];
    for (let i = 0; i < 3; i++) got.push(await c.next(5000));
    assert.deepEqual(
      got.map((r) => r.type_url),
      [TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener],
    );
    assert.deepEqual(got[0]?.names, [`outbound|9090||${host('third')}`]);
    assert.deepEqual(got[1]?.names, [ECHO_CLUSTER]);
    assert.deepEqual(got[2]?.names, [`${host('third')}:9090`]);
    for (const r of got) c.ack(r);

    writeCluster(ws);
    const restore: DeltaResponse[] = [];
    for (let i = 0; i < 3; i++) restore.push(await c.next(5000));
    // Removing `third`: its cluster goes only after the listener that used it.
    assert.deepEqual(
      restore.map((r) => r.type_url),
      [TypeUrls.Endpoint, TypeUrls.Listener, TypeUrls.Cluster],
    );
    assert.deepEqual(restore[1]?.removed_resources, [`${host('third')}:9090`]);
    assert.deepEqual(restore[2]?.removed_resources, [`outbound|9090||${host('third')}`]);
    for (const r of restore) c.ack(r);
  });

  it('rejects a stream whose first request has no node', async () => {
    const c = connect({ id: '' });
    c.send({ typeUrl: TypeUrls.Cluster });
    await assert.rejects(c.next(3000), /node/);
  });
});

type SyncProxy = {
  variant: string;
  types: Record<
    string,
    {
      subscribed: string[] | '*';
      sent: { nonce: string | null };
      acked: { nonce: string | null };
      synced: boolean;
      lastNack: { message: string; nonce: string } | null;
    }
  >;
};

/** /debug/syncz for one node, read after the server processed everything the client sent. */
async function syncFor(nodeId: string, meridian: RunningMeridian): Promise<SyncProxy> {
  await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(`http://127.0.0.1:${meridian.httpPort}/debug/syncz?proxy=${encodeURIComponent(nodeId)}`);
  const body = (await res.json()) as { proxies: SyncProxy[] };
  const last = body.proxies.at(-1);
  assert.ok(last, `proxy ${nodeId} connected`);
  return last;
}
