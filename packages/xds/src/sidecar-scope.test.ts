import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, ProxyType, type EgressScope, type MeshPolicies, type Service } from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { StaticDiscovery, testPolicies, testProxy } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

const svc = (name: string, ns: string, port: number): Service => ({
  hostname: `${name}.${ns}.svc.cluster.local`,
  name,
  namespace: ns,
  ports: [{ name: `http-${port}`, port, protocol: 'TCP' }],
  clusters: ['east'],
  addresses: { east: [`10.96.0.${port % 250}`] },
  serviceAccounts: [],
});

/** Policies holding only a Sidecar scope for namespace `demo`: its own services and `shared/*`. */
function scoped(scope: EgressScope | undefined): () => MeshPolicies {
  const policies = testPolicies({ traffic: { egressFor: (w) => (w.namespace === 'demo' ? scope : undefined) } });
  return () => policies;
}

const SCOPE: EgressScope = {
  source: { kind: 'Sidecar', namespace: 'demo', name: 'default', path: 'spec.egress' },
  hosts: [
    { namespace: 'demo', host: '*' },
    { namespace: 'shared', host: '*' },
  ],
};

describe('Sidecar egress scope in what a sidecar is sent', () => {
  const discovery = new StaticDiscovery([svc('echo', 'demo', 8080), svc('db', 'shared', 5432), svc('billing', 'finance', 9090), svc('ledger', 'finance', 8080)], {});
  const sidecar = (namespace: string) => testProxy({ id: `sidecar~10.0.0.1~x.${namespace}~${namespace}.svc.cluster.local`, type: ProxyType.Sidecar, namespace });
  const names = (r: MeshResources, typeUrl: TypeUrl, namespace: string) => r.generate(typeUrl, sidecar(namespace), undefined).map((x) => x.name).sort();

  it('a scoped sidecar gets the clusters, port listeners and routes of its scope only; others get everything', () => {
    const r = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], policies: scoped(SCOPE) });
    const outbound = (typeUrl: TypeUrl, ns: string) => names(r, typeUrl, ns).filter((n) => n.startsWith('outbound|'));
    assert.deepEqual(outbound(TypeUrl.Cluster, 'demo'), ['outbound|5432||db.shared.svc.cluster.local', 'outbound|8080||echo.demo.svc.cluster.local']);
    assert.equal(outbound(TypeUrl.Cluster, 'finance').length, 4);
    const ports = (ns: string) => names(r, TypeUrl.Listener, ns).filter((n) => n.startsWith('0.0.0.0_'));
    assert.deepEqual(ports('demo'), ['0.0.0.0_5432', '0.0.0.0_8080']);
    assert.deepEqual(ports('finance'), ['0.0.0.0_5432', '0.0.0.0_8080', '0.0.0.0_9090']);
    // The 8080 routes of a scoped sidecar know echo, not ledger (another namespace, out of scope).
    const [routes] = r.generate(TypeUrl.Route, sidecar('demo'), new Set(['8080']));
    const text = Buffer.from(routes?.any ?? []).toString('latin1');
    assert.ok(text.includes('echo.demo.svc.cluster.local') && !text.includes('ledger.finance'), 'routes follow the scope');
  });

  it('a Sidecar change reaches listeners, clusters and routes; a change of another policy kind does not reach listeners', () => {
    const r = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], policies: scoped(SCOPE) });
    const change = (kind: ConfigKind) => ({ kind: 'full' as const, configs: [{ kind, namespace: 'demo', name: 'default' }], reasons: [] });
    for (const typeUrl of [TypeUrl.Listener, TypeUrl.Cluster, TypeUrl.Route]) assert.equal(r.affects(change(ConfigKind.Sidecar), typeUrl, sidecar('demo'), undefined), true, typeUrl);
    assert.equal(r.affects(change(ConfigKind.DestinationRule), TypeUrl.Listener, sidecar('demo'), undefined), false);
  });
});
