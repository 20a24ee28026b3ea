/**
 * CSDS (envoy.service.status.v3.ClientStatusDiscoveryService) against the real server, read
 * with an independent proto-loader client: per proxy and resource, what was sent and what
 * the proxy said about it, for SotW and delta streams alike.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@meridian/model';
import { parseConfig, startMeridian, type RunningMeridian } from '@meridian/server';
import {
  AdsTestClient,
  CsdsTestClient,
  DeltaAdsTestClient,
  TypeUrls,
  type CsdsClientConfig,
  type CsdsResource,
  type TestNode,
} from '@meridian/testkit';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { Workspace } from '../support/meridian-process.ts';

const ECHO = 'echo.demo.svc.cluster.local';
const ECHO_LISTENER = `${ECHO}:7070`;
const ECHO_CLUSTER = `outbound|7070||${ECHO}`;
const OTHER_CLUSTER = 'outbound|8080||other.demo.svc.cluster.local';
const GHOST_LISTENER = 'ghost.demo.svc.cluster.local:1';
const node_ = (id: string): TestNode => ({ id, locality: { region: 'r1', zone: 'z1' }, metadata: { CLUSTER_ID: 'c1' } });

function resource(config: CsdsClientConfig | undefined, typeUrl: string, name: string): CsdsResource {
  const found = config?.generic_xds_configs.find((r) => r.type_url === typeUrl && r.name === name);
  assert.ok(found, `${typeUrl} ${name} listed`);
  return found;
}

describe('CSDS', () => {
  const ws = new Workspace();
  let meridian: RunningMeridian;
  let csds: CsdsTestClient;
  const closers: Array<{ close(): void }> = [];
  let sotwLds = '';
  let deltaCds: Record<string, string> = {};
  let deltaEdsNonce = '';

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeFileSync(
      ws.path('c1', 'mesh.yaml'),
      yamlDocs(
        node('n1', 'r1'),
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        service('other', 'demo', [{ name: 'grpc', port: 8080 }]),
        endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.1', node: 'n1' }]),
      ),
    );
    const file = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], debounce: { quietMs: 10, maxMs: 100 } });
    meridian = await startMeridian(parseConfig(readFileSync(file, 'utf8'), file), silentLogger());
    const address = `127.0.0.1:${meridian.xdsPort}`;
    csds = CsdsTestClient.connect(address);
    closers.push(csds);

    // A SotW proxy: LDS ACKed, CDS not answered yet, EDS NACKed.
    const sotw = AdsTestClient.connect(address, node_('sidecar~10.0.0.9~a.demo~demo.svc.cluster.local'));
    closers.push(sotw);
    sotwLds = (await sotw.requestAck(TypeUrls.Listener, [ECHO_LISTENER])).version_info;
    sotw.send({ typeUrl: TypeUrls.Cluster, names: [ECHO_CLUSTER] });
    await sotw.next();
    sotw.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER] });
    const eds = await sotw.next();
    sotw.send({ typeUrl: TypeUrls.Endpoint, names: [ECHO_CLUSTER], nonce: eds.nonce, error: { code: 14, message: 'bad endpoints' } });

    // A delta proxy: wildcard CDS ACKed, EDS NACKed, a listener that does not exist.
    const delta = DeltaAdsTestClient.connect(address, node_('delta-proxy-1'));
    closers.push(delta);
    delta.send({ typeUrl: TypeUrls.Cluster });
    const cds = await delta.next();
    delta.ack(cds);
    deltaCds = Object.fromEntries(cds.resources.map((r) => [r.name, r.version]));
    delta.send({ typeUrl: TypeUrls.Endpoint, subscribe: [ECHO_CLUSTER] });
    const deltaEds = await delta.next();
    deltaEdsNonce = deltaEds.nonce;
    delta.send({ typeUrl: TypeUrls.Endpoint, nonce: deltaEds.nonce, error: { code: 3, message: 'delta endpoints rejected' } });
    delta.send({ typeUrl: TypeUrls.Listener, subscribe: [GHOST_LISTENER] });
    await new Promise((r) => setTimeout(r, 200));
  });

  after(async () => {
    for (const c of closers) c.close();
    await meridian.stop();
    ws.remove();
  });

  it('lists every connected proxy when no matcher is given', async () => {
    const configs = await csds.fetch();
    assert.deepEqual(configs.map((c) => c.node.id).sort(), ['delta-proxy-1', 'sidecar~10.0.0.9~a.demo~demo.svc.cluster.local']);
    assert.equal(configs[0]?.node.locality?.zone, 'z1');
  });

  it('reports a SotW proxy per resource: SYNCED when ACKed, STALE when unanswered, ERROR when NACKed', async () => {
    const [config] = await csds.fetch({ nodeIds: [{ exact: 'sidecar~10.0.0.9~a.demo~demo.svc.cluster.local' }] });
    const lds = resource(config, TypeUrls.Listener, ECHO_LISTENER);
    assert.equal(lds.config_status, 'SYNCED');
    assert.equal(lds.client_status, 'ACKED');
    assert.ok(lds.version_info);
    assert.ok(lds.last_updated?.seconds);
    assert.equal(lds.xds_config?.['@type'], 'envoy.config.listener.v3.Listener');
    assert.equal(lds.xds_config?.['name'], ECHO_LISTENER);
    assert.ok(sotwLds);

    const cds = resource(config, TypeUrls.Cluster, ECHO_CLUSTER);
    assert.equal(cds.config_status, 'STALE');
    assert.equal(cds.client_status, 'REQUESTED');

    const eds = resource(config, TypeUrls.Endpoint, ECHO_CLUSTER);
    assert.equal(eds.config_status, 'ERROR');
    assert.equal(eds.client_status, 'NACKED');
    assert.equal(eds.error_state?.details, 'bad endpoints');
    assert.equal(eds.error_state?.version_info, eds.version_info);
    assert.equal(config?.generic_xds_configs.length, 3);
  });

  it('reports a delta proxy per resource, with the versions it was sent, and NOT_SENT for what does not exist', async () => {
    const [config] = await csds.fetch({ nodeIds: [{ prefix: 'delta-' }] });
    assert.equal(config?.node.id, 'delta-proxy-1');
    for (const name of [ECHO_CLUSTER, OTHER_CLUSTER]) {
      const r = resource(config, TypeUrls.Cluster, name);
      assert.equal(r.config_status, 'SYNCED');
      assert.equal(r.client_status, 'ACKED');
      assert.equal(r.version_info, deltaCds[name], 'the per-resource version the proxy received');
      assert.equal(r.xds_config?.['name'], name);
    }
    const eds = resource(config, TypeUrls.Endpoint, ECHO_CLUSTER);
    assert.equal(eds.config_status, 'ERROR');
    assert.equal(eds.client_status, 'NACKED');
    assert.equal(eds.error_state?.details, 'delta endpoints rejected');
    assert.ok(deltaEdsNonce);

    const ghost = resource(config, TypeUrls.Listener, GHOST_LISTENER);
    assert.equal(ghost.config_status, 'NOT_SENT');
    assert.equal(ghost.client_status, 'REQUESTED');
    assert.equal(ghost.version_info ?? '', '');
  });

  it('ORs node matchers, matches nothing for an unknown node, and can leave resource contents out', async () => {
    const both = await csds.fetch({ nodeIds: [{ exact: 'delta-proxy-1' }, { prefix: 'sidecar~' }] });
    assert.equal(both.length, 2);
    assert.deepEqual(await csds.fetch({ nodeIds: [{ exact: 'nobody' }] }), []);
    const [bare] = await csds.fetch({ nodeIds: [{ exact: 'delta-proxy-1' }], excludeResourceContents: true });
    assert.ok(bare && bare.generic_xds_configs.length > 0);
    assert.ok(bare.generic_xds_configs.every((r) => r.xds_config === undefined));
  });

  it('answers each request on a StreamClientStatus stream', async () => {
    const answers = await csds.stream([{ nodeIds: [{ exact: 'delta-proxy-1' }] }, {}]);
    assert.deepEqual(
      answers.map((a) => a.length),
      [1, 2],
    );
  });
});
