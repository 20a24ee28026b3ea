/**
 * Istio's security policy through real Envoy sidecars over real mTLS
 * (https://istio.io/latest/docs/reference/config/security/authorization-policy/ and
 * …/peer_authentication/). The policies come from cluster east; the workloads they protect
 * run in west. Namespace isolation by SVID (403 over HTTP, the connection closed over TCP),
 * a DENY that beats an ALLOW, a dry-run that counts without denying, a policy change taking
 * effect at run time with no failed request for a caller it still allows, and PERMISSIVE
 * letting plaintext and mTLS onto one port where STRICT refuses plaintext.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PodApp, RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { yamlDocs } from '../support/manifests.ts';
import { ECHO_APP_PORTS, ECHO_PORTS, serviceManifests } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO = { vip: '10.96.0.20', host: 'echo.demo.svc.cluster.local' };
const BILLING = { vip: '10.96.0.30', host: 'billing.demo.svc.cluster.local' };
const HTTP = ECHO_PORTS.http;
const TCP = ECHO_PORTS.tcp;

const authorizationPolicy = (name: string, spec: object, annotations?: Record<string, string>) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: 'demo', ...(annotations ? { annotations } : {}) },
  spec: { selector: { matchLabels: { app: 'echo' } }, ...spec },
});

/** Echo takes callers from its own namespace only, never on /admin; a dry-run would deny /dry. */
const isolation = (namespaces: string[]) =>
  yamlDocs(
    authorizationPolicy('same-namespace', { action: 'ALLOW', rules: [{ from: [{ source: { namespaces } }] }] }),
    // Scoped to the HTTP port: over TCP a DENY ignores HTTP-only fields and would deny everything.
    authorizationPolicy('no-admin', { action: 'DENY', rules: [{ to: [{ operation: { ports: [String(HTTP.target)], paths: ['/admin*'] } }] }] }),
    authorizationPolicy('would-deny-dry', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/dry'] } }] }] }, { 'istio.io/dry-run': 'true' }),
  );

const permissiveBilling = yamlDocs({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'billing-permissive', namespace: 'demo' },
  spec: { selector: { matchLabels: { app: 'billing' } }, mtls: { mode: 'PERMISSIVE' } },
});

describe('Istio security policy through Envoy sidecars', { skip }, () => {
  let mesh: EnvoyMesh;
  let sleep: Workload;
  let outsider: Workload;
  let echo: Workload;
  let plain: PodApp;

  const call = async (from: Workload, path = '/', target = ECHO) => {
    const a = await from.app.http1({ host: target.vip, port: HTTP.port, authority: `${target.host}:${HTTP.port}`, path, timeoutMs: 5000 });
    return { status: a.status, body: a.body, pod: a.status === 200 ? (JSON.parse(a.body) as Received).pod : undefined };
  };
  const writePolicy = (text: string) => writeFileSync(mesh.ws.path('east', 'policy.yaml'), text);
  const rbacStat = async (name: string) => (await echo.envoy.stats('rbac')).get(`http.inbound|${HTTP.target}||.rbac.${name}`) ?? 0;

  before(async () => {
    mesh = new EnvoyMesh();
    mesh.addPods(['sleep-east-0', 'outsider-east-0', 'echo-west-0', 'billing-west-0', 'plain-0']);
    const at = (name: string): Pod => mesh.pod(name);
    mesh.writeClusterNodes([['east', 'us-east'], ['west', 'us-west']]);
    const ports = [HTTP, TCP];
    writeFileSync(
      mesh.ws.path('west', 'services.yaml'),
      [
        serviceManifests({ name: 'echo', namespace: 'demo', vip: ECHO.vip, ports, cluster: 'west', pods: [{ name: 'echo-west-0', address: at('echo-west-0').address, serviceAccount: 'echo' }] }),
        serviceManifests({ name: 'billing', namespace: 'demo', vip: BILLING.vip, ports, cluster: 'west', pods: [{ name: 'billing-west-0', address: at('billing-west-0').address, serviceAccount: 'billing' }] }),
      ].join('---\n'),
    );
    writePolicy(isolation(['demo']));
    // Dry-run counts are read from the sidecars every 200 ms here (30 s by default).
    await mesh.startMeridian({ mtls: { mode: 'strict' }, policy: { dryRunReadIntervalMs: 200 }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
    const east = { cluster: 'east', locality: 'us-east/us-east-1a', ports: {} };
    const west = { cluster: 'west', namespace: 'demo', locality: 'us-west/us-west-1a', ports: ECHO_APP_PORTS };
    [sleep, outsider, echo] = await Promise.all([
      mesh.sidecar(at('sleep-east-0'), { ...east, namespace: 'demo', serviceAccount: 'sleep' }),
      mesh.sidecar(at('outsider-east-0'), { ...east, namespace: 'other', serviceAccount: 'outsider' }),
      mesh.sidecar(at('echo-west-0'), { ...west, serviceAccount: 'echo', labels: ['app=echo'] }),
      mesh.sidecar(at('billing-west-0'), { ...west, serviceAccount: 'billing', labels: ['app=billing'] }),
    ]);
    plain = await PodApp.start(at('plain-0'), {});
    await eventually('echo answering sleep', async () => ((await call(sleep)).pod === 'echo-west-0' ? true : undefined), 20_000, 100);
  });

  after(() => mesh.closeChecked());

  it('namespace isolation by SVID: a caller from another namespace gets 403 over HTTP and a closed connection over TCP', async () => {
    assert.equal((await call(sleep)).status, 200);
    const denied = await call(outsider);
    assert.equal(denied.status, 403, denied.body);
    assert.match(denied.body, /RBAC: access denied/);
    assert.equal(await sleep.app.tcp({ host: ECHO.vip, port: TCP.port, data: 'ping' }), 'echo-west-0 ping', 'TCP from the same namespace passes the network RBAC filter');
    await assert.rejects(outsider.app.tcp({ host: ECHO.vip, port: TCP.port, data: 'ping' }), /closed|ECONNRESET|EOF|empty/i);
    // A workload no policy selects takes both.
    assert.equal((await call(outsider, '/', BILLING)).status, 200);
  });

  it('a DENY beats the ALLOW that would let the caller in', async () => {
    const denied = await call(sleep, '/admin/users');
    assert.equal(denied.status, 403, denied.body);
    assert.equal((await call(sleep, '/users')).status, 200);
  });

  it('a dry-run policy counts what it would deny and denies nothing', async () => {
    const before = await rbacStat('istio_dry_run_deny_.shadow_denied');
    for (let i = 0; i < 3; i++) assert.equal((await call(sleep, '/dry')).status, 200);
    assert.equal(await rbacStat('istio_dry_run_deny_.shadow_denied'), before + 3, JSON.stringify([...(await echo.envoy.stats('rbac'))]));
    // Meridian reads the count back from echo's stats port: every chain's, the TCP one's too (a
    // dry-run DENY with an HTTP-only field would deny every TCP connection: the earlier test's count).
    const counted = [...(await echo.envoy.stats('istio_dry_run_deny_'))].filter(([k]) => k.endsWith('.shadow_denied')).reduce((n, [, v]) => n + v, 0);
    assert.ok(counted >= before + 3);
    const view = await eventually('the count in /debug/policyz', async () => {
      const policyz = (await (await fetch(`http://${mesh.meridian?.httpAddress}/debug/policyz`)).json()) as { dryRun: { policies: Array<{ policy: string; wouldDeny: number; proxiesRead: number; sharedWith: string[] }> } };
      const p = policyz.dryRun.policies.find((x) => x.policy === 'demo/would-deny-dry');
      return p && p.wouldDeny === counted ? p : undefined;
    }, 10_000, 100);
    assert.deepEqual([view.wouldDeny, view.proxiesRead, view.sharedWith], [counted, 1, []]);
    const metrics = await (await fetch(`http://${mesh.meridian?.httpAddress}/metrics`)).text();
    assert.match(metrics, new RegExp(`^meridian_policy_dry_run_would_deny\\{policy="demo/would-deny-dry"\\} ${counted}$`, 'm'));
  });

  it('a policy change takes effect at run time, with no failed request for a caller it still allows', async () => {
    let stop = false;
    const statuses: number[] = [];
    const failures: string[] = [];
    const steady = (async () => {
      while (!stop) {
        const r = await call(sleep);
        statuses.push(r.status);
        if (r.status !== 200) failures.push(r.body);
      }
    })();
    try {
      writePolicy(isolation(['demo', 'other']));
      await eventually('the outsider let in', async () => ((await call(outsider)).status === 200 ? true : undefined), 20_000, 100);
      writePolicy(isolation(['demo']));
      await eventually('the outsider shut out again', async () => ((await call(outsider)).status === 403 ? true : undefined), 20_000, 100);
    } finally {
      stop = true;
      await steady;
    }
    assert.ok(statuses.length >= 5, `sleep kept calling (${statuses.length} calls)`);
    assert.deepEqual(failures, [], 'every call of the caller both policies allow succeeded');
  });

  it('STRICT refuses a plaintext caller; a PERMISSIVE PeerAuthentication lets plaintext and mTLS onto the same port', async () => {
    const billing = mesh.pod('billing-west-0');
    const direct = () => plain.http1({ host: billing.address, port: HTTP.target, authority: `${BILLING.host}:${HTTP.port}`, timeoutMs: 3000 });
    await assert.rejects(direct(), /socket hang up|ECONNRESET|closed/);
    writePolicy([isolation(['demo']), permissiveBilling].join('---\n'));
    const answer = await eventually('plaintext accepted', async () => {
      try {
        const a = await direct();
        return a.status === 200 ? a : undefined;
      } catch {
        return undefined;
      }
    }, 20_000, 100);
    assert.equal((JSON.parse(answer.body) as Received).pod, 'billing-west-0');
    assert.equal((await call(sleep, '/', BILLING)).status, 200, 'mTLS from a sidecar still gets in');
  });
});
