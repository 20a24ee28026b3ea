/**
 * An Envoy sidecar's stream against the real server (Envoy itself cannot run here): the ADS
 * conversation Envoy has (CDS and LDS by wildcard, then EDS and RDS by the names they refer
 * to), every resource checked with Envoy's own validate.rules, and /debug/config_dump
 * showing what that proxy holds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@meridian/model';
import { parseConfig, startMeridian, type RunningMeridian } from '@meridian/server';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { validateMessage } from '@meridian/xds/testing';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { Workspace } from '../support/meridian-process.ts';

const ECHO = 'echo.demo.svc.cluster.local';
const SIDECAR = 'sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local';

describe('Envoy sidecar over ADS', () => {
  const ws = new Workspace();
  let meridian: RunningMeridian;
  let ads: AdsTestClient;

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeFileSync(
      ws.path('c1', 'mesh.yaml'),
      yamlDocs(
        node('n1', 'r1'),
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }, { name: 'tcp', port: 9090 }]),
        endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.1', node: 'n1' }]),
      ),
    );
    const file = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], debounce: { quietMs: 10, maxMs: 100 } });
    meridian = await startMeridian(parseConfig(readFileSync(file, 'utf8'), file), silentLogger());
    ads = AdsTestClient.connect(`127.0.0.1:${meridian.xdsPort}`, { id: SIDECAR, locality: { region: 'r1' }, metadata: { CLUSTER_ID: 'c1' } });
  });

  after(async () => {
    ads.close();
    await meridian.stop();
    ws.remove();
  });

  it('CDS, EDS, LDS, RDS as Envoy asks for them, all valid by validate.rules', async () => {
    const cds = await ads.requestAck(TypeUrls.Cluster);
    assert.deepEqual(cds.names, ['PassthroughCluster', 'InboundPassthroughCluster', 'BlackHoleCluster', `outbound|7070||${ECHO}`, `outbound|9090||${ECHO}`, 'inbound|17070||']);
    const eds = await ads.requestAck(TypeUrls.Endpoint, [`outbound|7070||${ECHO}`, `outbound|9090||${ECHO}`]);
    assert.deepEqual(eds.names, [`outbound|7070||${ECHO}`, `outbound|9090||${ECHO}`]);
    const lds = await ads.requestAck(TypeUrls.Listener);
    assert.deepEqual(lds.names, ['virtualOutbound', '0.0.0.0_7070', '0.0.0.0_9090', 'virtualInbound']);
    const rds = await ads.requestAck(TypeUrls.Route, ['7070']);
    assert.deepEqual(rds.names, ['7070']);
  });

  it('/debug/config_dump?proxy=ID: Envoy admin shape of what the proxy subscribed to', async () => {
    const res = await fetch(`http://127.0.0.1:${meridian.httpPort}/debug/config_dump?proxy=${encodeURIComponent(SIDECAR)}`);
    assert.equal(res.status, 200);
    const dump = (await res.json()) as { configs: Array<Record<string, unknown>> };
    const byType = Object.fromEntries(dump.configs.map((c) => [String(c['@type']).split('.').pop(), c]));
    const listeners = (byType['ListenersConfigDump']?.['dynamic_listeners'] ?? []) as Array<{ name: string; active_state: { listener: Record<string, unknown> } }>;
    assert.deepEqual(listeners.map((l) => l.name), ['virtualOutbound', '0.0.0.0_7070', '0.0.0.0_9090', 'virtualInbound']);
    for (const l of listeners) {
      const { '@type': _type, ...listener } = l.active_state.listener;
      const result = validateMessage('envoy.config.listener.v3.Listener', listener);
      assert.deepEqual(result.ok ? [] : result.errors, [], l.name);
    }
    assert.ok(byType['ClustersConfigDump']?.['version_info'], 'the CDS version the proxy was sent');
    const routes = byType['RoutesConfigDump']?.['dynamic_route_configs'] as unknown[];
    assert.equal(routes.length, 1);

    const missing = await fetch(`http://127.0.0.1:${meridian.httpPort}/debug/config_dump?proxy=nobody`);
    assert.match(JSON.stringify(await missing.json()), /no connected proxy/);
  });
});
