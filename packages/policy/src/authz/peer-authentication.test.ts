/** PeerAuthentication precedence, as the upstream reference's examples describe it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { PolicyObjectOf } from '../policy-object.ts';
import { PolicyStore } from '../policy-store.ts';
import { compilePeerAuthentications } from './peer-authentication.ts';

function compile(text: string, defaultMode: 'STRICT' | 'PERMISSIVE' | 'DISABLE' = 'PERMISSIVE') {
  const store = new PolicyStore();
  store.replace('c1', parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `#${i}` })));
  assert.deepEqual(store.statuses().flatMap((s) => s.errors), []);
  const objects = store.objects().filter((o): o is PolicyObjectOf<'PeerAuthentication'> => o.kind === 'PeerAuthentication');
  return compilePeerAuthentications(objects, { rootNamespace: 'meridian-system', defaultMode });
}

const pa = (name: string, ns: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;

const FINANCE = { namespace: 'foo', labels: { app: 'finance' } };
const OTHER = { namespace: 'foo', labels: { app: 'other' } };

describe('PeerAuthentication', () => {
  it('no policy: the configured default', () => {
    const { peerAuthentications } = compile('', 'STRICT');
    assert.deepEqual(peerAuthentications.modeFor(FINANCE, 8080), { mode: 'STRICT' });
  });

  it('workload port, then workload, then namespace, then mesh-wide; UNSET inherits', () => {
    const { peerAuthentications: pas, problems } = compile(
      pa('default', 'meridian-system', '  mtls: { mode: STRICT }') +
        pa('default', 'foo', '  mtls: { mode: PERMISSIVE }') +
        pa('finance', 'foo', '  selector: { matchLabels: { app: finance } }\n  mtls: { mode: UNSET }\n  portLevelMtls: { "8080": { mode: DISABLE }, "9090": { mode: UNSET } }'),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(pas.modeFor(FINANCE, 8080), { mode: 'DISABLE', source: { kind: 'PeerAuthentication', namespace: 'foo', name: 'finance', path: 'spec.portLevelMtls["8080"]' } });
    assert.equal(pas.modeFor(FINANCE, 9090).mode, 'PERMISSIVE', 'UNSET port and workload: the namespace decides');
    assert.equal(pas.modeFor(OTHER, 8080).source?.name, 'default');
    assert.equal(pas.modeFor(OTHER, 8080).mode, 'PERMISSIVE');
    assert.deepEqual(pas.modeFor({ namespace: 'bar', labels: {} }, 80), { mode: 'STRICT', source: { kind: 'PeerAuthentication', namespace: 'meridian-system', name: 'default', path: 'spec.mtls' } });
  });

  it('two namespace-wide policies: one applies, the other is reported', () => {
    const { peerAuthentications, problems } = compile(pa('b', 'foo', '  mtls: { mode: DISABLE }') + pa('a', 'foo', '  mtls: { mode: STRICT }'));
    assert.equal(peerAuthentications.modeFor(OTHER, 80).mode, 'STRICT');
    assert.deepEqual(problems.map((p) => [p.ref.name, p.severity]), [['b', 'warning']]);
  });
});
