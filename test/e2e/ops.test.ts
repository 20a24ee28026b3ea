/**
 * Operator commands end to end, against the real `meridian serve` and Kubernetes API test
 * servers: `create-remote-secret` output applied to the primary adds a cluster, `check` finds
 * healthy, unreachable and under-privileged clusters, `status` shows proxies and clusters.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { POLICY_RESOURCES } from '@meridian/discovery';
import { AdsTestClient, KubeApiServer, TypeUrls, type KubeObjectInput, type ResourceType } from '@meridian/testkit';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { DEPLOY_DIR, readYamlDocs } from '../deploy/kustomize.ts';
import { eventually } from '../support/eventually.ts';
import { SYSTEM_NAMESPACE, startKubeCluster, type KubeTestCluster } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

/** RBAC kinds, which the API test server does not serve by default. */
const RBAC_RESOURCES: ResourceType[] = [
  { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', listKind: 'ClusterRoleList', namespaced: false, storage: 'stored' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', listKind: 'ClusterRoleBindingList', namespaced: false, storage: 'stored' },
];
const READER = `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian-reader`;
const k8s = (o: object): KubeObjectInput => o as KubeObjectInput;

interface CheckJson {
  ok: boolean;
  clusters: Array<{ id: string; origin: string; reachable: boolean; version: string | null; missingPermissions: string[] | null; tokenExpiry: string | null; errors: string[] }>;
}

describe('operator commands: create-remote-secret, check, status', () => {
  const ws = new Workspace();
  let primary: KubeTestCluster;
  let remote: KubeApiServer;
  let meridian: MeridianProcess;
  let config = '';
  let ads: AdsTestClient | undefined;

  const registryHas = async (needle: string) => JSON.stringify((await meridian.getJson('/debug/registryz')).body).includes(needle);
  const check = async () => {
    const run = await MeridianProcess.run(['check', '--config', config, '--output', 'json', '--timeout', '2000']);
    return { code: run.code, body: JSON.parse(run.stdout) as CheckJson, stderr: run.stderr };
  };

  before(async () => {
    primary = await startKubeCluster('alpha', 'r-alpha');
    primary.setEcho([{ ip: '127.0.0.31' }], 7070);
    // A fresh remote cluster: no meridian-system namespace, no reader; an admin's kubeconfig.
    remote = await KubeApiServer.start({ tokens: { 'admin-token': { username: 'admin', groups: ['system:masters'] } }, resources: RBAC_RESOURCES });
    remote.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    remote.upsert(k8s({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'demo' }, spec: { ports: [{ name: 'grpc', port: 7070 }] } }));
    remote.upsert(k8s({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'echo-gamma', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'echo' } },
      addressType: 'IPv4',
      ports: [{ name: 'grpc', port: 7070, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.61'], conditions: { ready: true } }],
    }));
    ws.write('alpha.kubeconfig', primary.api.kubeconfigYaml({ token: primary.token }));
    ws.write('remote-admin.kubeconfig', remote.kubeconfigYaml({ token: 'admin-token', clusterName: 'remote-admin' }));
    config = ws.writeConfig({
      namespace: SYSTEM_NAMESPACE,
      clusters: [{ id: 'alpha', kubeconfig: './alpha.kubeconfig', primary: true }],
      debounce: { quietMs: 20, maxMs: 200 },
      discovery: { readinessTimeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 500 } },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    ads?.close();
    await meridian.stop();
    await primary.api.close();
    await remote.close();
    ws.remove();
  });

  it('create-remote-secret sets up the reader and prints a secret that adds the cluster', async () => {
    const run = await MeridianProcess.run(['create-remote-secret', '--kubeconfig', ws.path('remote-admin.kubeconfig'), '--name', 'gamma']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /namespace meridian-system: created/);
    assert.match(run.stderr, /clusterrole meridian-reader: created/);

    // The reader as deploy/remote would have made it: same rules.
    const role = remote.get({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'meridian-reader' }) as { rules: unknown } | undefined;
    const deployed = (readYamlDocs(path.join(DEPLOY_DIR, 'remote', 'reader.yaml')) as Array<{ kind: string; rules?: unknown }>).find((o) => o.kind === 'ClusterRole');
    assert.deepEqual(role?.rules, deployed?.rules, 'the command creates the same ClusterRole as deploy/remote/reader.yaml');
    assert.ok(remote.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: SYSTEM_NAMESPACE, name: 'meridian-reader' }));
    assert.ok(remote.requests({ verb: 'create', resource: 'serviceaccounts' }).some((r) => r.subresource === 'token'), 'a TokenRequest was made');

    const docs = parseAllDocuments(run.stdout).map((d) => d.toJS() as Record<string, unknown> | null).filter((d) => d !== null);
    assert.equal(docs.length, 1);
    const secret = docs[0] as { kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; data: Record<string, string> };
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.metadata.namespace, SYSTEM_NAMESPACE);
    assert.equal(secret.metadata.labels['meridian.dev/multi-cluster'], 'true');
    assert.deepEqual(Object.keys(secret.data), ['gamma']);
    const kubeconfig = Buffer.from(secret.data['gamma'] ?? '', 'base64').toString();
    const kc = parseYaml(kubeconfig) as { clusters: Array<{ cluster: Record<string, unknown> }>; users: Array<{ user: Record<string, unknown> }> };
    assert.equal(kc.clusters[0]?.cluster['server'], remote.url);
    assert.deepEqual(Object.keys(kc.users[0]?.user ?? {}), ['token'], 'a token only: no exec, no files');

    primary.api.upsert(k8s(secret));
    await eventually('gamma endpoints served', () => registryHas('127.0.0.61'), 15_000);
    const gammaStatus = async () =>
      (await meridian.getJson<{ clusters: Array<{ id: string; state: string; missingPermissions: string[] | null }> }>('/debug/clusterz')).body.clusters.find((c) => c.id === 'gamma');
    await eventually('gamma Synced', async () => ((await gammaStatus())?.state === 'Synced' ? true : undefined));
    assert.deepEqual((await eventually('permissions reviewed', async () => (await gammaStatus())?.missingPermissions ?? undefined)), []);
    assert.ok(remote.requests({ user: READER, verb: 'watch' }).length > 0, 'Meridian reads gamma as meridian-reader');
    // And a proxy gets gamma's endpoint.
    ads = AdsTestClient.connect(meridian.xdsAddress, { id: 'ops-proxy', metadata: { CLUSTER_ID: 'alpha' } });
    const eds = await ads.requestAck(TypeUrls.Endpoint, ['outbound|7070||echo.demo.svc.cluster.local']);
    assert.ok(JSON.stringify(eds.resources).includes('127.0.0.61'));
  });

  it('create-remote-secret again reuses what exists; --token-secret takes a token Secret', async () => {
    remote.upsert(k8s({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'meridian-reader-token', namespace: SYSTEM_NAMESPACE, annotations: { 'kubernetes.io/service-account.name': 'meridian-reader' } },
      type: 'kubernetes.io/service-account-token',
      data: { token: Buffer.from(remote.issueToken({ namespace: SYSTEM_NAMESPACE, name: 'meridian-reader' })).toString('base64') },
    }));
    const run = await MeridianProcess.run(['create-remote-secret', '--kubeconfig', ws.path('remote-admin.kubeconfig'), '--name', 'gamma', '--token-secret', 'meridian-reader-token']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /created/);
    assert.match(run.stdout, /meridian-remote-secret-gamma/);
  });

  it('check: all clusters healthy → exit 0 and a readable table', async () => {
    const { code, body, stderr } = await check();
    assert.equal(code, 0, stderr);
    assert.equal(body.ok, true);
    assert.deepEqual(body.clusters.map((c) => [c.id, c.reachable, c.missingPermissions]), [['alpha', true, []], ['gamma', true, []]]);
    assert.match(body.clusters[0]?.version ?? '', /^v1\./);
    assert.ok(Date.parse(body.clusters[1]?.tokenExpiry ?? '') > Date.now() + 300 * 24 * 3600 * 1000, 'the TokenRequest token lasts about a year');
    const text = await MeridianProcess.run(['check', '--config', config]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /CLUSTER\s+ORIGIN\s+REACHABLE\s+VERSION\s+PERMISSIONS/);
    assert.match(text.stdout, /gamma\s+secret:meridian-system\/meridian-remote-secret-gamma\s+yes/);
    assert.match(text.stdout, /all checks passed/);
  });

  it('check: missing permissions → exit 1, naming them', async () => {
    remote.setAuthorization([
      { group: 'system:masters', rules: [{ verbs: ['*'], resources: ['*'] }] },
      {
        user: READER,
        rules: [
          { verbs: ['list', 'watch'], apiGroups: [''], resources: ['services', 'pods', 'nodes', 'namespaces'] },
          // Policy kinds granted but the policy CRD VirtualService: only the gaps are named.
          ...POLICY_RESOURCES.filter((r) => r.kind !== 'VirtualService').map((r) => ({ verbs: ['list', 'watch'], apiGroups: [r.group], resources: [r.plural] })),
        ],
      },
    ]);
    try {
      const { code, body } = await check();
      assert.equal(code, 1);
      const gamma = body.clusters.find((c) => c.id === 'gamma');
      assert.deepEqual(gamma?.missingPermissions, [
        'list endpointslices.discovery.k8s.io',
        'watch endpointslices.discovery.k8s.io',
        'list virtualservices.networking.istio.io',
        'watch virtualservices.networking.istio.io',
      ]);
      assert.match(gamma?.errors.join() ?? '', /missing permissions/);
    } finally {
      remote.setAuthorization('AlwaysAllow');
    }
  });

  it('check: unreachable cluster → exit 1', async () => {
    await remote.stop();
    try {
      const { code, body } = await check();
      assert.equal(code, 1);
      const gamma = body.clusters.find((c) => c.id === 'gamma');
      assert.equal(gamma?.reachable, false);
      assert.match(gamma?.errors[0] ?? '', /unreachable/);
      // Where, and why: the API server's address and the cause behind undici's "fetch failed".
      assert.match(gamma?.errors[0] ?? '', /^unreachable: https?:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
      assert.equal(body.clusters.find((c) => c.id === 'alpha')?.reachable, true, 'the others are still checked');
    } finally {
      await remote.start();
    }
  });

  it('status: proxies with their sync state per type, clusters with their state', async () => {
    await eventually('gamma back', async () => ((await meridian.getJson<{ clusters: Array<{ id: string; state: string }> }>('/debug/clusterz')).body.clusters.find((c) => c.id === 'gamma')?.state === 'Synced' ? true : undefined), 15_000);
    const run = await MeridianProcess.run(['status', '--server', `http://${meridian.httpAddress}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /PROXIES \(1\)/);
    assert.match(run.stdout, /NODE\s+CLUSTER\s+TYPE\s+CONNECTED\s+LDS\s+RDS\s+CDS\s+EDS/);
    assert.match(run.stdout, /ops-proxy\s+alpha\s+\S+\s+\S+\s+-\s+-\s+-\s+SYNCED/);
    assert.match(run.stdout, /CLUSTERS \(2\)/);
    assert.match(run.stdout, /alpha\s+Synced/);
    assert.match(run.stdout, /gamma\s+Synced/);
    const down = await MeridianProcess.run(['status', '--server', 'http://127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot read Meridian's status/);
  });
});
