/**
 * Authorization semantics, as a table of cases from the upstream AuthorizationPolicy
 * reference and its examples: empty policy, allow-all, deny-all, not-forms, conditions,
 * DENY before ALLOW, dry-run, TCP with HTTP-only fields, trust domains.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policiesSelecting } from '@meridian/model';
import { parseAllDocuments } from 'yaml';
import { PolicyStore } from '../policy-store.ts';
import type { PolicyObjectOf } from '../policy-object.ts';
import { compileAuthorization } from './compile-authorization.ts';
import { evaluateAuthorization, type AuthzRequest } from './evaluate.ts';

const TD = 'cluster.local';
const SLEEP = `spiffe://${TD}/ns/default/sa/sleep`;
const TEST = `spiffe://${TD}/ns/test/sa/client`;
const FOREIGN = 'spiffe://partner.example/ns/default/sa/sleep';

function policies(text: string) {
  const store = new PolicyStore();
  store.replace('c1', parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `#${i}` })));
  assert.deepEqual(store.statuses().filter((s) => s.state !== 'Accepted').flatMap((s) => s.errors), []);
  const objects = store.objects().filter((o): o is PolicyObjectOf<'AuthorizationPolicy'> => o.kind === 'AuthorizationPolicy');
  return compileAuthorization(objects, { rootNamespace: 'meridian-system' });
}

const ap = (name: string, spec: string, ns = 'foo', annotations = '') => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns}${annotations ? `, annotations: { ${annotations} }` : ''} }
spec:
${spec}
`;

const HTTPBIN = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };
const get = (extra: Partial<AuthzRequest> = {}): AuthzRequest => ({ protocol: 'http', principal: SLEEP, destinationPort: 8000, method: 'GET', path: '/info', host: 'httpbin.foo', headers: {}, ...extra });

function decide(text: string, request: AuthzRequest, workload = HTTPBIN) {
  const { policies: compiled } = policies(text);
  return evaluateAuthorization(policiesSelecting(compiled, workload), request, { trustDomain: TD });
}

describe('authorization semantics (upstream reference cases)', () => {
  const cases: Array<{ name: string; policy: string; request: AuthzRequest; allowed: boolean; decidedBy?: string }> = [
    { name: 'no policy: allow', policy: '', request: get(), allowed: true },
    { name: 'allow-nothing (empty spec) denies everything', policy: ap('allow-nothing', '  {}'), request: get(), allowed: false },
    { name: 'allow-all (one empty rule)', policy: ap('allow-all', '  rules: [{}]'), request: get(), allowed: true, decidedBy: 'foo/allow-all' },
    { name: 'deny-all beats allow-all', policy: ap('allow-all', '  rules: [{}]') + ap('deny-all', '  action: DENY\n  rules: [{}]'), request: get(), allowed: false, decidedBy: 'foo/deny-all' },
    {
      name: 'ALLOW by principal and method/path: matching request',
      policy: ap('httpbin', `  selector: { matchLabels: { app: httpbin } }\n  rules:\n  - from: [{ source: { principals: ["${TD}/ns/default/sa/sleep"] } }]\n    to: [{ operation: { methods: [GET], paths: ["/info*"] } }]`),
      request: get(),
      allowed: true,
    },
    {
      name: 'ALLOW by principal: another method is denied',
      policy: ap('httpbin', `  rules:\n  - from: [{ source: { principals: ["${TD}/ns/default/sa/sleep"] } }]\n    to: [{ operation: { methods: [GET] } }]`),
      request: get({ method: 'POST' }),
      allowed: false,
    },
    {
      name: 'a selector that does not select the workload does not apply',
      policy: ap('other', `  selector: { matchLabels: { app: productpage } }\n  rules: [{ to: [{ operation: { methods: [HEAD] } }] }]`),
      request: get(),
      allowed: true,
    },
    {
      name: 'namespaces: a source in test is allowed',
      policy: ap('ns', '  rules: [{ from: [{ source: { namespaces: [test] } }] }]'),
      request: get({ principal: TEST }),
      allowed: true,
    },
    {
      name: 'namespaces: the same namespace name in another trust domain is not local',
      policy: ap('ns', '  rules: [{ from: [{ source: { namespaces: [default] } }] }]'),
      request: get({ principal: FOREIGN }),
      allowed: false,
    },
    {
      name: 'notPaths: DENY everything but /healthz',
      policy: ap('deny', '  action: DENY\n  rules: [{ to: [{ operation: { notPaths: [/healthz] } }] }]'),
      request: get({ path: '/healthz?x=1' }),
      allowed: true,
    },
    {
      name: 'notPaths: another path is denied',
      policy: ap('deny', '  action: DENY\n  rules: [{ to: [{ operation: { notPaths: [/healthz] } }] }]'),
      request: get({ path: '/admin' }),
      allowed: false,
    },
    {
      name: 'principals "*": plaintext callers are not authenticated',
      policy: ap('authn', '  rules: [{ from: [{ source: { principals: ["*"] } }] }]'),
      request: get({ principal: undefined }),
      allowed: false,
    },
    {
      name: 'when: a JWT claim condition',
      policy: ap('claims', '  rules:\n  - when: [{ key: "request.auth.claims[groups]", values: [admins] }]'),
      request: get({ claims: { groups: ['users', 'admins'] } }),
      allowed: true,
    },
    {
      name: 'when: nested claim that does not match',
      policy: ap('claims', '  rules:\n  - when: [{ key: "request.auth.claims[sub][team]", values: [red] }]'),
      request: get({ claims: { sub: { team: 'blue' } } }),
      allowed: false,
    },
    {
      name: 'ipBlocks and a source.ip condition with notValues',
      policy: ap('ips', '  rules:\n  - from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }]\n    when: [{ key: source.ip, notValues: ["10.1.0.0/16"] }]'),
      request: get({ sourceIp: '10.2.3.4' }),
      allowed: true,
    },
    {
      name: 'a mesh-wide DENY from the root namespace applies everywhere',
      policy: ap('root-deny', `  action: DENY\n  rules: [{ from: [{ source: { notNamespaces: [foo] } }] }]`, 'meridian-system'),
      request: get(),
      allowed: false,
      decidedBy: 'meridian-system/root-deny',
    },
    {
      name: 'TCP: an ALLOW rule with HTTP-only fields never matches (fail closed)',
      policy: ap('http-only', '  rules: [{ to: [{ operation: { methods: [GET], ports: ["8000"] } }] }]'),
      request: { protocol: 'tcp', principal: SLEEP, destinationPort: 8000 },
      allowed: false,
    },
    {
      name: 'TCP: a DENY rule ignores its HTTP-only fields (denies more)',
      policy: ap('deny-post', '  action: DENY\n  rules: [{ to: [{ operation: { methods: [POST], ports: ["8000"] } }] }]'),
      request: { protocol: 'tcp', principal: SLEEP, destinationPort: 8000 },
      allowed: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decide(c.policy, c.request);
      assert.equal(d.allowed, c.allowed, d.reason);
      if (c.decidedBy) assert.equal(d.decidedBy && `${d.decidedBy.policy.namespace}/${d.decidedBy.policy.name}`, c.decidedBy);
    });
  }

  it('dry-run and AUDIT policies never decide; they are reported as what they would have matched', () => {
    const d = decide(
      ap('would-deny', '  action: DENY\n  rules: [{}]', 'foo', '"istio.io/dry-run": "true"') + ap('audit', '  action: AUDIT\n  rules: [{ to: [{ operation: { paths: ["/info"] } }] }]'),
      get(),
    );
    assert.equal(d.allowed, true);
    assert.deepEqual(d.shadow.map((m) => [m.policy.name, m.action, m.dryRun]), [['audit', 'AUDIT', false], ['would-deny', 'DENY', true]]);
  });

  it('CUSTOM and targetRefs are reported as not supported and not applied', () => {
    const { policies: compiled, problems } = policies(
      ap('ext', '  action: CUSTOM\n  provider: { name: opa }\n  rules: [{}]') + ap('by-ref', '  targetRefs: [{ kind: Service, group: "", name: httpbin }]\n  rules: [{}]'),
    );
    assert.deepEqual(compiled, []);
    assert.deepEqual(problems.map((p) => [p.ref.name, p.path]), [['by-ref', 'spec.targetRefs'], ['ext', 'spec.action']]);
  });
});
