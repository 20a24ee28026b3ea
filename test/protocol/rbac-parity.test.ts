/**
 * The RBAC Meridian compiles from AuthorizationPolicies decides as the offline evaluator
 * (what `meridian authz check` runs) does. The RBAC is run by an independent engine: the
 * one inside @grpc/grpc-js-xds, which proxyless gRPC servers enforce with, fed through the
 * same proto encode/decode a real server does. Every case is also run with the policy as
 * Envoy gets it (which grpc-js-xds can evaluate too, save LOG and shadow rules, which never
 * decide).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
// grpc-js-xds's own RBAC engine (not its public API): the independent implementation.
import { parseConfig } from '@grpc/grpc-js-xds/build/src/rbac.js';
import { policiesSelecting, ClientKind } from '@meridian/model';
import { compileAuthorization, evaluateAuthorization, PolicyStore, type AuthzRequest, type PolicyObjectOf } from '@meridian/policy';
import { buildRbacFilters, HTTP_RBAC_TYPE, protoType } from '@meridian/xds';
import { parseAllDocuments } from 'yaml';

const TD = 'cluster.local';
const SLEEP = `spiffe://${TD}/ns/default/sa/sleep`;
const ADMIN = `spiffe://${TD}/ns/ops/sa/admin`;
const FOREIGN = 'spiffe://partner.example/ns/default/sa/sleep';
const WORKLOAD = { namespace: 'foo', labels: { app: 'httpbin' } };

function compile(yamlText: string) {
  const store = new PolicyStore();
  store.replace('c1', parseAllDocuments(yamlText).map((d, i) => ({ value: d.toJS() as unknown, origin: `#${i}` })));
  assert.deepEqual(store.statuses().filter((s) => s.state !== 'Accepted').flatMap((s) => s.errors), []);
  const objects = store.objects().filter((o): o is PolicyObjectOf<'AuthorizationPolicy'> => o.kind === 'AuthorizationPolicy');
  return policiesSelecting(compileAuthorization(objects, { rootNamespace: 'meridian-system' }).policies, WORKLOAD);
}

const ap = (name: string, spec: string, ns = 'foo') => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;

const rbacType = () => protoType(HTTP_RBAC_TYPE.slice(HTTP_RBAC_TYPE.lastIndexOf('/') + 1));

/** Whether the grpc-js-xds engine lets the request through every filter, as a server would run them. */
function rbacAllows(filters: readonly object[], request: AuthzRequest): boolean {
  const type = rbacType();
  const headers = new grpc.Metadata();
  headers.set(':method', request.method ?? 'POST');
  headers.set(':authority', request.host ?? 'httpbin.foo');
  headers.set(':path', request.path ?? '/');
  for (const [k, v] of Object.entries(request.headers ?? {})) headers.set(k, v);
  const info = {
    destinationIp: '10.0.0.10',
    destinationPort: request.destinationPort,
    sourceIp: request.sourceIp ?? '10.0.0.1',
    headers,
    tls: request.principal !== undefined,
    peerCertificate: request.principal ? { subjectaltname: `URI:${request.principal}`, subject: {} } : null,
    urlPath: (request.path ?? '/').split('?')[0],
  };
  return filters.every((f) => {
    const { '@type': _type, ...config } = (f as { typed_config: Record<string, unknown> }).typed_config;
    const decoded = type.toObject(type.decode(type.encode(type.fromObject(config)).finish()), { longs: String, enums: String, defaults: true, oneofs: true }) as { rules?: unknown };
    // A filter with shadow rules only (dry-run) never decides.
    if (!decoded.rules) return true;
    return (parseConfig(decoded.rules as Parameters<typeof parseConfig>[0]) as { apply(i: unknown): boolean }).apply(info);
  });
}

const get = (extra: Partial<AuthzRequest> = {}): AuthzRequest => ({ protocol: 'http', principal: SLEEP, destinationPort: 8000, method: 'GET', path: '/info', host: 'httpbin.foo', headers: {}, ...extra });

const CASES: Array<{ name: string; policy: string; requests: AuthzRequest[] }> = [
  { name: 'no policy', policy: '', requests: [get(), get({ principal: undefined })] },
  { name: 'allow-nothing', policy: ap('allow-nothing', '  {}'), requests: [get()] },
  { name: 'allow-all and deny-all', policy: ap('allow-all', '  rules: [{}]') + ap('deny-all', '  action: DENY\n  rules: [{}]'), requests: [get()] },
  {
    name: 'principals, methods and path prefix',
    policy: ap('p', `  rules:\n  - from: [{ source: { principals: ["${TD}/ns/default/sa/sleep"] } }]\n    to: [{ operation: { methods: [GET, "HE*"], paths: ["/info*", "*/status"] } }]`),
    requests: [get(), get({ method: 'POST' }), get({ method: 'HEAD' }), get({ path: '/x/status' }), get({ path: '/other' }), get({ principal: ADMIN }), get({ principal: undefined }), get({ path: '/info?q=1' })],
  },
  {
    name: 'namespaces: local trust domain only, prefix and suffix forms',
    policy: ap('ns', '  rules: [{ from: [{ source: { namespaces: [default, "op*"] } }] }]'),
    requests: [get(), get({ principal: ADMIN }), get({ principal: FOREIGN }), get({ principal: undefined })],
  },
  {
    name: 'notNamespaces and notPrincipals in a DENY',
    policy: ap('d', `  action: DENY\n  rules: [{ from: [{ source: { notNamespaces: [default], notPrincipals: ["*/sa/admin"] } }] }]`),
    requests: [get(), get({ principal: ADMIN }), get({ principal: FOREIGN }), get({ principal: `spiffe://${TD}/ns/other/sa/x` })],
  },
  {
    name: 'principals "*" (authenticated only)',
    policy: ap('authn', '  rules: [{ from: [{ source: { principals: ["*"] } }] }]'),
    requests: [get(), get({ principal: undefined })],
  },
  {
    name: 'ipBlocks with a notValues source.ip condition',
    policy: ap('ips', '  rules:\n  - from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }]\n    when: [{ key: source.ip, notValues: ["10.1.0.0/16"] }]'),
    requests: [get({ sourceIp: '10.2.3.4' }), get({ sourceIp: '10.1.3.4' }), get({ sourceIp: '192.168.0.1' })],
  },
  {
    name: 'hosts case-insensitively, with or without a port; ports and notPaths',
    policy: ap('h', '  rules:\n  - to: [{ operation: { hosts: ["httpbin.foo", "*.example.com"], ports: ["8000"], notPaths: ["/admin*"] } }]'),
    requests: [get(), get({ host: 'HTTPBIN.foo:8000' }), get({ host: 'api.example.com:443' }), get({ host: 'evil.foo' }), get({ destinationPort: 9000 }), get({ path: '/admin/x' })],
  },
  {
    name: 'when: request headers and source.principal; several rules',
    policy: ap('w', `  rules:\n  - when: [{ key: "request.headers[x-team]", values: [blue, "gr*"] }]\n  - when: [{ key: source.principal, values: ["${TD}/ns/ops/sa/admin"] }, { key: destination.port, values: ["8000"] }]`),
    requests: [get({ headers: { 'x-team': 'blue' } }), get({ headers: { 'x-team': 'green' } }), get({ headers: { 'x-team': 'red' } }), get({ principal: ADMIN }), get({ principal: ADMIN, destinationPort: 1 })],
  },
  {
    name: 'a DENY beats an ALLOW; an unrelated ALLOW still allows nothing else',
    policy: ap('allow', '  rules: [{ from: [{ source: { namespaces: [default, ops] } }] }]') + ap('deny', '  action: DENY\n  rules: [{ to: [{ operation: { methods: [DELETE] } }] }]'),
    requests: [get(), get({ method: 'DELETE' }), get({ principal: ADMIN, method: 'DELETE' }), get({ principal: FOREIGN })],
  },
  {
    name: 'request principals and claims: absent where no RequestAuthentication selects the workload',
    policy: ap('jwt', '  action: DENY\n  rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }], to: [{ operation: { paths: ["/secure*"] } }] }]') + ap('claims', '  rules: [{ when: [{ key: "request.auth.claims[group]", values: [admin] }] }, { from: [{ source: { namespaces: [default] } }] }]'),
    requests: [get(), get({ path: '/secure/x' }), get({ principal: ADMIN })],
  },
  {
    name: 'mesh-wide policy from the root namespace with a dry-run and an AUDIT beside it',
    policy:
      ap('root', '  action: DENY\n  rules: [{ from: [{ source: { notNamespaces: [default] } }] }]', 'meridian-system') +
      `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: dry, namespace: foo, annotations: { "istio.io/dry-run": "true" } }\nspec:\n  action: DENY\n  rules: [{}]\n` +
      ap('audit', '  action: AUDIT\n  rules: [{}]'),
    requests: [get(), get({ principal: ADMIN })],
  },
];

describe('compiled RBAC decides as the evaluator does (grpc-js-xds engine)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const policies = compile(c.policy);
      for (const client of [ClientKind.Grpc, ClientKind.Envoy]) {
        const filters = buildRbacFilters(policies, { trustDomain: TD, protocol: 'http', client }, 'inbound');
        // Envoy's LOG filter never decides; grpc-js-xds rejects LOG, so leave it out here.
        const deciding = filters.filter((f) => (f as { typed_config: { rules?: { action?: string } } }).typed_config.rules?.action !== 'LOG');
        for (const request of c.requests) {
          const expected = evaluateAuthorization(policies, request, { trustDomain: TD });
          assert.equal(rbacAllows(deciding, request), expected.allowed, `${client}: ${JSON.stringify(request)}: evaluator says ${expected.reason}`);
        }
      }
    });
  }

  it('gRPC servers get neither LOG nor shadow rules; Envoy gets both', () => {
    const policies = compile(
      ap('audit', '  action: AUDIT\n  rules: [{}]') +
        `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: dry, namespace: foo, annotations: { "istio.io/dry-run": "true" } }\nspec:\n  action: DENY\n  rules: [{}]\n`,
    );
    assert.deepEqual(buildRbacFilters(policies, { trustDomain: TD, protocol: 'http', client: ClientKind.Grpc }, 'x'), []);
    const envoy = buildRbacFilters(policies, { trustDomain: TD, protocol: 'http', client: ClientKind.Envoy }, 'x') as Array<{ typed_config: Record<string, { action?: string } | string> }>;
    assert.deepEqual(envoy.map((f) => Object.keys(f.typed_config).filter((k) => k !== '@type').sort()), [['rules'], ['shadow_rules', 'shadow_rules_stat_prefix']]);
  });

  it('a gRPC server under a RequestAuthentication validates no JWT: an ALLOW on a request principal matches nothing, a DENY on one denies every caller', () => {
    const grpcUnderJwt = { trustDomain: TD, protocol: 'http', client: ClientKind.Grpc, jwtIssuers: ['https://issuer.example'] } as const;
    const allow = compile(ap('a', '  rules: [{ from: [{ source: { requestPrincipals: ["https://issuer.example/alice"] } }] }]'));
    assert.equal(rbacAllows(buildRbacFilters(allow, grpcUnderJwt, 'in'), get({ principal: ADMIN })), false);
    const deny = compile(ap('d', '  action: DENY\n  rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }]'));
    assert.equal(rbacAllows(buildRbacFilters(deny, grpcUnderJwt, 'in'), get({ principal: ADMIN })), false, 'never looser than written: a caller with a token would be denied');
    // Without a RequestAuthentication no request has a principal: the DENY matches none.
    assert.equal(rbacAllows(buildRbacFilters(deny, { ...grpcUnderJwt, jwtIssuers: [] }, 'in'), get({ principal: ADMIN })), true);
  });

  it('over TCP an ALLOW rule with an HTTP-only field matches nothing, a DENY rule drops the field', () => {
    const allow = compile(ap('a', '  rules: [{ to: [{ operation: { methods: [GET] } }] }, { to: [{ operation: { ports: ["9000"] } }] }]'));
    const [allowFilter] = buildRbacFilters(allow, { trustDomain: TD, protocol: 'tcp', client: ClientKind.Envoy }, 'tcp') as Array<{ typed_config: { rules: { policies: Record<string, unknown> } } }>;
    assert.deepEqual(Object.keys(allowFilter?.typed_config.rules.policies ?? {}), ['ns[foo]-policy[a]-rule[1]'], 'rule 0 is dropped');
    const deny = compile(ap('d', '  action: DENY\n  rules: [{ to: [{ operation: { methods: [GET], ports: ["9000"] } }] }]'));
    const [denyFilter] = buildRbacFilters(deny, { trustDomain: TD, protocol: 'tcp', client: ClientKind.Envoy }, 'tcp') as Array<{ typed_config: { rules: { policies: Record<string, { permissions: unknown[] }> } } }>;
    assert.deepEqual(denyFilter?.typed_config.rules.policies['ns[foo]-policy[d]-rule[0]']?.permissions, [{ destination_port: 9000 }]);
  });
});
