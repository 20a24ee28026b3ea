/**
 * Compiler goldens for security policy: one set of objects in Istio's YAML (the reference
 * docs' shapes: a namespace ALLOW, a DENY by path, an AUDIT, a dry-run DENY, conditions,
 * request principals and claims, a RequestAuthentication with a jwksUri and an inline JWKS),
 * compiled to what each client gets: Envoy's HTTP and network RBAC stages, gRPC's RBAC (with
 * the token fields unknown there), and Envoy's jwt_authn filter. A change to any of them shows
 * here as a diff to review (UPDATE_GOLDEN=1 rewrites the file).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ClientKind, policiesSelecting } from '@meridian/model';
import { compileMeshPolicies, PolicyStore } from '@meridian/policy';
import { buildRbacFilters, jwtAuthnFilter, jwtIssuers } from '@meridian/xds';
import { parseAllDocuments } from 'yaml';

const POLICIES = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: same-namespace, namespace: shop }
spec:
  selector: { matchLabels: { app: api } }
  rules:
  - from: [{ source: { namespaces: [shop], notPrincipals: ["cluster.local/ns/shop/sa/legacy"] } }]
    to: [{ operation: { methods: [GET, POST], paths: ["/api/*"], ports: ["8080"] } }]
  - from: [{ source: { ipBlocks: ["10.250.0.0/16"] } }]
    to: [{ operation: { paths: ["/healthz"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: shop }
spec:
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin*"], notHosts: ["internal.shop"] } }]
  - when: [{ key: "request.auth.claims[groups]", values: [banned] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: audit-writes, namespace: shop }
spec:
  action: AUDIT
  rules: [{ to: [{ operation: { methods: [POST, PUT, DELETE] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: would-need-token, namespace: shop, annotations: { "istio.io/dry-run": "true" } }
spec:
  action: DENY
  rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }], when: [{ key: source.namespace, notValues: [shop] }] }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: tokens, namespace: shop }
spec:
  selector: { matchLabels: { app: api } }
  jwtRules:
  - issuer: https://issuer.example/tenant
    jwksUri: https://issuer.example/tenant/keys
    audiences: [shop-api]
    outputClaimToHeaders: [{ header: x-user, claim: sub }]
  - issuer: spiffe://cluster.local
    jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}'
    fromHeaders: [{ name: x-jwt, prefix: "Bearer " }]
    forwardOriginalToken: true
`;

function compareGolden(file: string, actual: object): void {
  const url = new URL(`./testdata/${file}`, import.meta.url);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(url)) {
    writeFileSync(url, text);
    if (process.env['UPDATE_GOLDEN'] !== '1') assert.fail(`${file} was missing and has been written: review it, then run again`);
    return;
  }
  assert.deepEqual(actual, JSON.parse(readFileSync(url, 'utf8')), `${file} differs (UPDATE_GOLDEN=1 refreshes it)`);
}

describe('security policy compiled per client (goldens)', () => {
  it('RBAC for Envoy HTTP and TCP chains, RBAC for gRPC servers, jwt_authn for Envoy', () => {
    const store = new PolicyStore();
    store.replace('c1', parseAllDocuments(POLICIES).map((d, i) => ({ value: d.toJS() as unknown, origin: `#${i}` })));
    assert.deepEqual(store.statuses().flatMap((s) => s.errors), []);
    const { policies } = compileMeshPolicies(store.objects(), { domainSuffix: 'cluster.local', rootNamespace: 'meridian-system', defaultMtlsMode: 'STRICT' });
    const workload = { namespace: 'shop', labels: { app: 'api' } };
    const authz = policiesSelecting(policies.authorization, workload);
    const ras = policiesSelecting(policies.requestAuthentication, workload);
    const options = { trustDomain: 'cluster.local', trustDomainAliases: ['old.example'], jwtIssuers: jwtIssuers(ras) };
    compareGolden('security-compiled.golden.json', {
      envoyHttp: buildRbacFilters(authz, { ...options, protocol: 'http', client: ClientKind.Envoy }, 'inbound|8080||'),
      envoyTcp: buildRbacFilters(authz, { ...options, protocol: 'tcp', client: ClientKind.Envoy }, 'inbound|9000||'),
      grpcServer: buildRbacFilters(authz, { ...options, protocol: 'http', client: ClientKind.Grpc }, 'inbound-listener'),
      envoyJwtAuthn: jwtAuthnFilter(ras, (uri) => (uri === 'https://issuer.example/tenant/keys' ? '{"keys":[{"kty":"RSA","n":"fetched","e":"AQAB","kid":"r1"}]}' : undefined)),
    });
  });
});
