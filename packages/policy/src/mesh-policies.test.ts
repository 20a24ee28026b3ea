/** The per-object report /debug/policyz shows: every state an object can be in, with why. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { compileMeshPolicies, policyReport } from './mesh-policies.ts';
import { PolicyStore } from './policy-store.ts';

const docs = (text: string) => parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `p.yaml#${i + 1}` }));

const vs = (name: string, spec: string, ns = 'demo') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;

describe('policy report', () => {
  it('Accepted, PartiallyApplied per client kind, NotApplied, Rejected and Conflicted, each with its reasons', () => {
    const store = new PolicyStore({ primary: 'east' });
    store.replace(
      'east',
      docs(
        vs('plain', '  hosts: [echo]\n  http: [{ route: [{ destination: { host: echo } }], timeout: 2s }]') +
          vs('by-query', '  hosts: [other]\n  http:\n  - match: [{ queryParams: { v: { exact: "2" } } }]\n    route: [{ destination: { host: other } }]\n  - route: [{ destination: { host: other } }]') +
          vs('z-hidden', '  hosts: [echo]\n  http: [{ route: [{ destination: { host: echo } }] }]') +
          `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: demo }
spec: { action: CUSTOM, provider: { name: opa }, rules: [{}] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: bad, namespace: demo }
spec: { host: echo, trafficPolicy: { loadBalancer: { simple: FASTEST } } }
`,
      ),
    );
    store.replace('west', docs(vs('plain', '  hosts: [echo]\n  http: [{ route: [{ destination: { host: echo } }], timeout: 9s }]')));
    const compiled = compileMeshPolicies(store.objects(), { domainSuffix: 'cluster.local', rootNamespace: 'meridian', defaultMtlsMode: 'STRICT' });
    const rows = policyReport(store.statuses(), compiled);
    const row = (cluster: string, name: string) => rows.find((r) => r.cluster === cluster && r.ref?.name === name);

    assert.equal(row('east', 'plain')?.state, 'Accepted');
    assert.deepEqual(row('east', 'plain')?.messages, []);
    assert.equal(row('west', 'plain')?.state, 'Conflicted');
    assert.deepEqual(row('west', 'plain')?.messages, ['a different copy from cluster east takes precedence']);

    assert.equal(row('east', 'by-query')?.state, 'PartiallyApplied');
    assert.deepEqual(row('east', 'by-query')?.clients, {
      grpc: { omit: ['spec.http[0].match[0].queryParams: gRPC has no query parameters; the rule would match every request'], ignored: [] },
    });

    assert.equal(row('east', 'z-hidden')?.state, 'NotApplied');
    assert.deepEqual(row('east', 'z-hidden')?.messages, ['hidden for callers in other namespaces of echo.demo.svc.cluster.local by VirtualService demo/plain', 'hidden for callers in demo of echo.demo.svc.cluster.local by VirtualService demo/plain']);

    assert.equal(row('east', 'ext')?.state, 'NotApplied');
    assert.match(row('east', 'ext')?.messages[0] ?? '', /^spec\.action: CUSTOM \(external authorization\) is not supported/);

    assert.equal(row('east', 'bad')?.state, 'Rejected');
    assert.match(row('east', 'bad')?.messages[0] ?? '', /^spec\.trafficPolicy\.loadBalancer\.simple: /);
    assert.equal(rows.length, 6);
  });
});
