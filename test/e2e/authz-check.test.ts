/**
 * The access explainer as a user runs it: `meridian authz check` offline on a two-cluster
 * config, and the same question asked of a running Meridian at /debug/authz. The policies
 * are split across clusters (one cluster's ALLOW protects the service's endpoints in both),
 * and each answer names the rule that decided it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { node, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

interface Explanation {
  from: { principal: string; workload?: { pod: string; cluster: string; address: string } };
  to: { service: string; port: number; protocol: string };
  verdict: string;
  workloads: Array<{ cluster: string; endpoints: string[]; mtls: string; allowed: boolean; reason: string; decidedBy?: { policy: string; action: string; rule: number }; wouldMatch: Array<{ policy: string; action: string }>; policies: string[] }>;
}

const policy = (name: string, namespace: string, spec: object, annotations: Record<string, string> = {}) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace, annotations },
  spec,
});

/** A pod behind `app`'s Service, with its EndpointSlice. */
function pod(name: string, namespace: string, sa: string, address: string, labels: Record<string, string>): object[] {
  return [
    { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { serviceAccountName: sa, nodeName: 'n1' } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-slice`, namespace, labels: { 'kubernetes.io/service-name': labels['app'] ?? name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: [address], conditions: { ready: true }, nodeName: 'n1', targetRef: { kind: 'Pod', name, namespace } }],
    },
  ];
}

describe('meridian authz check', () => {
  const ws = new Workspace();
  let config = '';
  after(() => ws.remove());

  before(() => {
    mkdirSync(ws.path('east'));
    mkdirSync(ws.path('west'));
    writeFileSync(ws.path('east', 'mesh.yaml'), yamlDocs(
      node('n1', 'r1', 'z1'),
      service('echo', 'demo', [{ name: 'http', port: 8080 }]),
      service('caller', 'demo', [{ name: 'http', port: 8080 }]),
      service('frontend', 'web', [{ name: 'http', port: 8080 }]),
      ...pod('echo-v1', 'demo', 'echo', '10.0.0.1', { app: 'echo', version: 'v1' }),
      ...pod('caller-1', 'demo', 'caller', '10.0.0.2', { app: 'caller' }),
      ...pod('frontend-1', 'web', 'frontend', '10.0.0.3', { app: 'frontend' }),
      // Only in east, yet it protects echo's endpoints in west too.
      policy('same-namespace', 'demo', { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['demo'] } }] }] }),
      policy('watch-admin', 'demo', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/debug*'] } }] }] }, { 'istio.io/dry-run': 'true' }),
    ));
    writeFileSync(ws.path('west', 'mesh.yaml'), yamlDocs(
      node('n1', 'r2', 'z2'),
      service('echo', 'demo', [{ name: 'http', port: 8080 }]),
      ...pod('echo-v2', 'demo', 'echo', '10.1.0.1', { app: 'echo', version: 'v2' }),
      policy('v2-no-admin', 'demo', { action: 'DENY', selector: { matchLabels: { version: 'v2' } }, rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }),
    ));
    config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east', primary: true }, { id: 'west', manifests: './west' }], mtls: { mode: 'strict' } });
  });

  async function check(...args: string[]): Promise<{ code: number | null; out: Explanation }> {
    const run = await MeridianProcess.run(['authz', 'check', '--config', config, '-o', 'json', ...args]);
    assert.equal(run.stderr, '');
    return { code: run.code, out: JSON.parse(run.stdout) as Explanation };
  }

  it('allows a caller from the namespace everywhere, by the ALLOW policy read from the other cluster', async () => {
    const { code, out } = await check('--from', 'caller-1.demo', '--to', 'echo.demo:8080');
    assert.equal(code, 0);
    assert.equal(out.verdict, 'all');
    assert.deepEqual(out.from, { principal: 'spiffe://cluster.local/ns/demo/sa/caller', workload: { pod: 'demo/caller-1', cluster: 'east', address: '10.0.0.2' } });
    assert.deepEqual(out.to, { service: 'echo.demo.svc.cluster.local', port: 8080, protocol: 'http' });
    assert.deepEqual(out.workloads.map((w) => [w.cluster, w.endpoints, w.mtls, w.decidedBy]), [
      ['east', ['demo/echo-v1 (10.0.0.1)'], 'STRICT', { policy: 'demo/same-namespace', action: 'ALLOW', rule: 0 }],
      ['west', ['demo/echo-v2 (10.1.0.1)'], 'STRICT', { policy: 'demo/same-namespace', action: 'ALLOW', rule: 0 }],
    ]);
    assert.deepEqual(out.workloads[1]?.policies, ['demo/same-namespace', 'demo/v2-no-admin', 'demo/watch-admin']);
  });

  it('denies another namespace, saying that no ALLOW rule matched; exit 1', async () => {
    const { code, out } = await check('--from', 'spiffe://cluster.local/ns/web/sa/frontend', '--to', 'echo.demo.svc.cluster.local:8080');
    assert.equal(code, 1);
    assert.equal(out.verdict, 'none');
    for (const w of out.workloads) {
      assert.equal(w.allowed, false);
      assert.equal(w.decidedBy, undefined);
      assert.match(w.reason, /no rule of the 1 ALLOW policy matched/);
    }
  });

  it('a DENY on one version splits the answer per cluster; a dry-run policy says what it would have matched', async () => {
    const admin = await check('--from', 'caller-1.demo', '--to', 'echo.demo:8080', '--path', '/admin/users');
    assert.equal(admin.code, 1);
    assert.equal(admin.out.verdict, 'some');
    assert.deepEqual(admin.out.workloads.map((w) => [w.cluster, w.allowed, w.decidedBy?.policy]), [['east', true, 'demo/same-namespace'], ['west', false, 'demo/v2-no-admin']]);
    const debug = await check('--from', 'caller-1.demo', '--to', 'echo.demo:8080', '--path', '/debug/vars');
    assert.equal(debug.out.verdict, 'all');
    assert.deepEqual(debug.out.workloads[0]?.wouldMatch, [{ policy: 'demo/watch-admin', action: 'DENY (dry-run)', rule: 0 }]);
  });

  it('a federated identity with the same namespace is not "demo": namespaces mean the local trust domain', async () => {
    const { out } = await check('--from', 'spiffe://partner.example/ns/demo/sa/caller', '--to', 'echo.demo:8080');
    assert.equal(out.verdict, 'none');
  });

  it('names what it cannot find, with exit 2', async () => {
    const who = await MeridianProcess.run(['authz', 'check', '--config', config, '--from', 'nobody.demo', '--to', 'echo.demo:8080']);
    assert.equal(who.code, 2);
    assert.match(who.stderr, /--from: no workload nobody\.demo in any cluster/);
    const port = await MeridianProcess.run(['authz', 'check', '--config', config, '--from', 'caller-1.demo', '--to', 'echo.demo:9090']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /--to: echo\.demo\.svc\.cluster\.local has no port 9090 \(ports: 8080\)/);
  });

  it('a running Meridian gives the same answer at /debug/authz, and a 400/404 naming the parameter', async () => {
    const meridian = await MeridianProcess.start(['serve', '--config', config]);
    try {
      const offline = await check('--from', 'caller-1.demo', '--to', 'echo.demo:8080', '--path', '/admin/users', '--header', 'x-user: alice');
      const online = await MeridianProcess.run(['authz', 'check', '--server', meridian.httpAddress, '--from', 'caller-1.demo', '--to', 'echo.demo:8080', '--path', '/admin/users', '--header', 'x-user: alice', '-o', 'json']);
      assert.equal(online.code, 1, online.stderr);
      assert.deepEqual(JSON.parse(online.stdout), offline.out);
      const base = `http://${meridian.httpAddress}/debug/authz`;
      const missing = await fetch(`${base}?from=caller-1.demo`);
      assert.equal(missing.status, 400);
      assert.equal(((await missing.json()) as { parameter: string }).parameter, 'to');
      const unknown = await fetch(`${base}?from=caller-1.demo&to=nothing.demo`);
      assert.equal(unknown.status, 404);
      assert.match(((await unknown.json()) as { error: string }).error, /no service nothing\.demo\.svc\.cluster\.local/);
      const table = await MeridianProcess.run(['authz', 'check', '--server', meridian.httpAddress, '--from', 'web/frontend-1', '--to', 'echo.demo:8080']);
      assert.equal(table.code, 1);
      assert.match(table.stdout, /verdict: DENIED by every endpoint/);
      assert.match(table.stdout, /CLUSTER +ENDPOINTS +MTLS +DECISION +RULE +REASON/);
    } finally {
      await meridian.stop();
    }
  });
});
