/** Sidecar resources as egress scopes (https://istio.io/latest/docs/reference/config/networking/sidecar/). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scopeAllows } from '@meridian/model';
import { parseAllDocuments } from 'yaml';
import { compileMeshPolicies } from '../mesh-policies.ts';
import { PolicyStore } from '../policy-store.ts';

function scopes(text: string) {
  const store = new PolicyStore();
  store.replace('east', parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `s.yaml#${i}` })));
  return compileMeshPolicies(store.objects(), { domainSuffix: 'cluster.local', rootNamespace: 'meridian', defaultMtlsMode: 'STRICT' });
}

describe('Sidecar scopes', () => {
  it('outboundTrafficPolicy REGISTRY_ONLY without egress: every service stays visible, unknown destinations are dropped', () => {
    const compiled = scopes('apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: { name: default, namespace: demo }\nspec:\n  outboundTrafficPolicy: { mode: REGISTRY_ONLY }');
    const scope = compiled.policies.traffic.egressFor({ namespace: 'demo', labels: {} });
    assert.equal(scope?.registryOnly, true);
    assert.ok(scopeAllows(scope, { hostname: 'ledger.finance.svc.cluster.local', namespace: 'finance' }), 'no egress section limits nothing');
    assert.deepEqual(compiled.problems, []);
  });

  it('ALLOW_ANY (the default) passes unknown destinations through; egress hosts still scope', () => {
    const compiled = scopes('apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: { name: default, namespace: demo }\nspec:\n  egress: [{ hosts: ["./*"] }]\n  outboundTrafficPolicy: { mode: ALLOW_ANY }');
    const scope = compiled.policies.traffic.egressFor({ namespace: 'demo', labels: {} });
    assert.equal(scope?.registryOnly, undefined);
    assert.ok(!scopeAllows(scope, { hostname: 'ledger.finance.svc.cluster.local', namespace: 'finance' }));
    assert.ok(scopeAllows(scope, { hostname: 'echo.demo.svc.cluster.local', namespace: 'demo' }));
  });
});
