/**
 * Policy from manifest directories of two clusters, against the real `meridian serve`: each
 * object validated on its own, copies merged by the precedence rule, every object's state in
 * /debug/policyz and in metrics, changes picked up while running, a broken file keeping its
 * last good objects.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

interface Row {
  ref: { kind: string; namespace: string; name: string } | null;
  cluster: string;
  origin: string;
  state: string;
  messages: string[];
  clients: Record<string, { omit: string[]; ignored: string[] }>;
}
interface Policyz {
  totals: Record<string, number>;
  objects: Row[];
  conflicts: Array<{ ref: { name: string }; winner: string; losers: string[] }>;
}

const vs = (name: string, timeout: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: demo }
spec:
  hosts: [${name}]
  http:
${extra}  - route: [{ destination: { host: ${name} } }]
    timeout: ${timeout}
`;

const badDr = (simple: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: demo }
spec:
  host: echo
  trafficPolicy: { loadBalancer: { simple: ${simple} } }
`;

describe('policy from manifest directories, across clusters', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;

  /** Writes a file the supported way: aside, then renamed into place. */
  const put = (file: string, text: string) => {
    writeFileSync(ws.path(`${file}.tmp`), text);
    renameSync(ws.path(`${file}.tmp`), ws.path(file));
  };
  const policyz = async () => (await meridian.getJson<Policyz>('/debug/policyz')).body;
  const row = (p: Policyz, cluster: string, name: string, kind = 'VirtualService') => p.objects.find((r) => r.cluster === cluster && r.ref?.name === name && r.ref.kind === kind);

  before(async () => {
    mkdirSync(ws.path('east'));
    mkdirSync(ws.path('west'));
    put('east/policy.yaml', vs('echo', '2s') + badDr('FASTEST') + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: demo }
spec: { action: CUSTOM, provider: { name: opa }, rules: [{}] }
`);
    put('west/policy.yaml', vs('echo', '9s') + vs('search', '1s', '  - match: [{ queryParams: { q: { exact: "1" } } }]\n    route: [{ destination: { host: search } }]\n'));
    const config = ws.writeConfig({ clusters: [{ id: 'west', manifests: './west' }, { id: 'east', manifests: './east', primary: true }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    await meridian?.stop();
    ws.remove();
  });

  it('reports each object per cluster: accepted, conflicted (the primary wins), partially applied per client, not applied, rejected', async () => {
    const p = await eventually('both clusters read', async () => {
      const body = await policyz();
      return body.objects.length === 5 ? body : undefined;
    });
    assert.equal(row(p, 'east', 'echo')?.state, 'Accepted');
    assert.equal(row(p, 'west', 'echo')?.state, 'Conflicted');
    assert.deepEqual(p.conflicts.map((c) => [c.ref.name, c.winner, c.losers]), [['echo', 'east', ['west']]]);
    const search = row(p, 'west', 'search');
    assert.equal(search?.state, 'PartiallyApplied');
    assert.match(search?.clients['grpc']?.omit[0] ?? '', /^spec\.http\[0\]\.match\[0\]\.queryParams: /);
    assert.equal(row(p, 'east', 'ext', 'AuthorizationPolicy')?.state, 'NotApplied');
    const dr = row(p, 'east', 'echo', 'DestinationRule');
    assert.equal(dr?.state, 'Rejected');
    assert.equal(dr?.origin, 'policy.yaml:11');
    assert.match(dr?.messages[0] ?? '', /^spec\.trafficPolicy\.loadBalancer\.simple: /);
    const metrics = await (await fetch(`http://${meridian.httpAddress}/metrics`)).text();
    assert.match(metrics, /^meridian_policy_objects\{state="Rejected"\} 1$/m);
    assert.match(metrics, /^meridian_policy_objects\{state="Conflicted"\} 1$/m);
    assert.match(metrics, /^meridian_policy_conflicts 1$/m);
    const warned = meridian.logs.find((l) => l.msg === 'policy not applied as written' && l['object'] === 'DestinationRule/demo/echo');
    assert.equal(warned?.['origin'], 'policy.yaml:11');
  });

  it('picks up a fixed object while running; a file that no longer parses keeps its last good objects', async () => {
    put('east/policy.yaml', vs('echo', '2s') + badDr('ROUND_ROBIN'));
    const fixed = await eventually('the DestinationRule accepted', async () => {
      const p = await policyz();
      return row(p, 'east', 'echo', 'DestinationRule')?.state === 'Accepted' ? p : undefined;
    });
    assert.equal(row(fixed, 'east', 'ext', 'AuthorizationPolicy'), undefined, 'removed from the file, gone');
    put('west/policy.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: [unclosed\n');
    await eventually('the broken manifest reported', async () => {
      const clusterz = (await meridian.getJson<{ clusters: Array<{ id: string; source: { files: Array<{ error?: unknown }> } }> }>('/debug/clusterz')).body;
      return clusterz.clusters.find((c) => c.id === 'west')?.source.files.some((f) => f.error) ? true : undefined;
    });
    const p = await policyz();
    assert.equal(row(p, 'west', 'search')?.state, 'PartiallyApplied', 'the last good objects of west stay');
  });
});
