/**
 * How far a traffic policy change reaches: a DestinationRule change that names its hosts
 * rebuilds and pushes only those hosts' clusters and assignments; one that does not (a
 * wildcard host) reaches every host; a route change reaches listeners and routes, never
 * clusters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, mergePushRequests, ProxyType, type ConfigKey, type DestinationPolicy, type MeshPolicies, type PushRequest, type Service } from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { StaticDiscovery, testPolicies, testProxy } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

const host = (name: string) => `${name}.demo.svc.cluster.local`;
const svc = (name: string): Service => ({ hostname: host(name), name, namespace: 'demo', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], clusters: ['east'], addresses: { east: [`10.96.0.${name.length}`] }, serviceAccounts: [] });
const destination = (hostname: string): DestinationPolicy => ({
  host: hostname,
  source: { kind: 'DestinationRule', namespace: 'demo', name: hostname.split('.')[0] ?? '', path: 'spec' },
  policy: { limits: {} },
  portPolicies: new Map(),
  subsets: new Map([['v1', { name: 'v1', labels: { version: 'v1' }, policy: { limits: {} }, portPolicies: new Map() }]]),
});
const policies: MeshPolicies = testPolicies({ traffic: { destinationFor: (h) => destination(h) } });

const sidecar = testProxy({ id: 'sidecar~10.0.0.9~sleep.demo~demo.svc.cluster.local', type: ProxyType.Sidecar });
const push = (...configs: ConfigKey[]): PushRequest => ({ kind: 'full', configs, reasons: [] });
const ECHO_V1 = `outbound|8080|v1|${host('echo')}`;
const DB_V1 = `outbound|8080|v1|${host('db')}`;

function resources(): MeshResources {
  return new MeshResources({ discovery: new StaticDiscovery([svc('echo'), svc('db')], {}), domainSuffix: 'cluster.local', clusterLocalHosts: [], policies: () => policies });
}

describe('what a traffic policy change reaches', () => {
  it('a DestinationRule naming its host: that host’s clusters and assignments only', () => {
    const r = resources();
    const change = push({ kind: ConfigKind.DestinationRule, namespace: 'demo', name: 'echo', hosts: [host('echo')] });
    assert.equal(r.affects(change, TypeUrl.Cluster, sidecar, ECHO_V1), true);
    assert.equal(r.affects(change, TypeUrl.Cluster, sidecar, DB_V1), false);
    assert.equal(r.affects(change, TypeUrl.Cluster, sidecar, undefined), true, 'the wildcard list: subsets come and go');
    assert.equal(r.affects(change, TypeUrl.Endpoint, sidecar, ECHO_V1), true);
    assert.equal(r.affects(change, TypeUrl.Endpoint, sidecar, DB_V1), false);
    assert.equal(r.affects(change, TypeUrl.Listener, sidecar, undefined), false, 'no listener holds a DestinationRule');

    // Rebuilt: the changed host's clusters; the other host's are the cached bytes.
    const before = new Map(r.generate(TypeUrl.Cluster, sidecar, undefined).map((c) => [c.name, c]));
    r.invalidate(change);
    const after = new Map(r.generate(TypeUrl.Cluster, sidecar, undefined).map((c) => [c.name, c]));
    assert.equal(after.get(DB_V1), before.get(DB_V1), 'db: served from the cache');
    assert.notEqual(after.get(ECHO_V1), before.get(ECHO_V1), 'echo: built again');
  });

  it('two changes of one rule merged (one debounce, a queued connection) reach every host either named', () => {
    const key = (hosts?: string[]) => ({ kind: ConfigKind.DestinationRule, namespace: 'demo', name: 'echo', ...(hosts ? { hosts } : {}) });
    const merged = mergePushRequests(push(key([host('echo'), host('db')])), push(key([host('echo')])));
    assert.deepEqual(merged.configs, [key([host('echo'), host('db')])]);
    assert.equal(resources().affects(merged, TypeUrl.Cluster, sidecar, DB_V1), true, 'the first edit moved the rule off db');
    assert.deepEqual(mergePushRequests(push(key([host('echo')])), push(key())).configs, [key()], 'one that could not say: any host');
  });

  it('a DestinationRule that cannot say (a wildcard host) reaches every host', () => {
    const change = push({ kind: ConfigKind.DestinationRule, namespace: 'demo', name: 'all' });
    assert.equal(resources().affects(change, TypeUrl.Cluster, sidecar, DB_V1), true);
    assert.equal(resources().affects(change, TypeUrl.Endpoint, sidecar, DB_V1), true);
  });

  it('a VirtualService reaches listeners (TCP and TLS routes) and routes, not clusters or assignments', () => {
    const r = resources();
    const change = push({ kind: ConfigKind.VirtualService, namespace: 'demo', name: 'echo' });
    assert.equal(r.affects(change, TypeUrl.Listener, sidecar, undefined), true);
    assert.equal(r.affects(change, TypeUrl.Route, sidecar, undefined), true);
    assert.equal(r.affects(change, TypeUrl.Cluster, sidecar, ECHO_V1), false);
    assert.equal(r.affects(change, TypeUrl.Endpoint, sidecar, ECHO_V1), false);
  });
});
