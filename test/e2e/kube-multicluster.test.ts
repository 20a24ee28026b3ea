/**
 * Kubernetes discovery end to end: the real `meridian serve` against Kubernetes API test
 * servers (one per cluster) through the real @kubernetes/client-node, with remote secrets
 * added, rotated and removed at run time, and clusters that fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POLICY_RESOURCES } from '@meridian/discovery';
import { AdsTestClient, TypeUrls, startEchoBackend, xdsEchoClient, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { SYSTEM_NAMESPACE, remoteSecret, startKubeCluster, type KubeTestCluster } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const ECHO_CLUSTER = 'outbound|7070||echo.demo.svc.cluster.local';
const STALE_AFTER_MS = 1500;

interface ClusterzBody {
  clusters: Array<{ id: string; state: string; origin: string; missingPermissions: string[] | null; lastError: { message: string } | null }>;
  remoteSecrets: { secrets: Array<{ secret: string; clusters: Array<{ id: string; error: string | null }> }> } | null;
}
interface RegistryzBody {
  services: Array<{ hostname: string; endpoints: Array<{ cluster: string; address: string; health: string }> }>;
}

describe('Kubernetes clusters: primary, remotes from secrets, failures', () => {
  const ws = new Workspace();
  const backends: EchoBackend[] = [];
  const clients: EchoClient[] = [];
  const ads: AdsTestClient[] = [];
  let alpha: KubeTestCluster;
  let beta: KubeTestCluster;
  let gamma: KubeTestCluster;
  let meridian: MeridianProcess;
  let port = 0;

  const clusterz = async () => (await meridian.getJson<ClusterzBody>('/debug/clusterz')).body;
  const stateOf = async (id: string) => (await clusterz()).clusters.find((c) => c.id === id)?.state;
  const echoEndpoints = async () =>
    (await meridian.getJson<RegistryzBody>('/debug/registryz')).body.services
      .find((s) => s.hostname === 'echo.demo.svc.cluster.local')
      ?.endpoints.map((e) => `${e.cluster}:${e.address}:${e.health}`)
      .sort() ?? [];

  const xdsClient = (id: string, region: string | undefined, cluster = 'alpha') => {
    const c = xdsEchoClient('xds:///echo.demo.svc.cluster.local:7070', {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id, locality: region ? { region } : {}, metadata: { CLUSTER_ID: cluster } },
    });
    clients.push(c);
    return c;
  };
  const backendsAnswering = async (c: EchoClient, n = 9) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await c.echo('x')).backend);
    return [...seen].sort();
  };

  before(async () => {
    const first = await startEchoBackend({ host: '127.0.0.31', port: 0, cluster: 'alpha', name: 'alpha' });
    port = Number(first.address.split(':')[1]);
    backends.push(first);
    backends.push(await startEchoBackend({ host: '127.0.0.41', port, cluster: 'beta', name: 'beta' }));
    backends.push(await startEchoBackend({ host: '127.0.0.51', port, cluster: 'gamma', name: 'gamma' }));
    alpha = await startKubeCluster('alpha', 'r-alpha');
    beta = await startKubeCluster('beta', 'r-beta');
    gamma = await startKubeCluster('gamma', 'r-gamma');
    alpha.setEcho([{ ip: '127.0.0.31' }], port);
    beta.setEcho([{ ip: '127.0.0.41' }], port);
    gamma.setEcho([{ ip: '127.0.0.51' }], port);
    ws.write('alpha.kubeconfig', alpha.api.kubeconfigYaml({ token: alpha.token }));
    ws.write('beta.kubeconfig', beta.api.kubeconfigYaml({ token: beta.token }));
    const config = ws.writeConfig({
      namespace: SYSTEM_NAMESPACE,
      clusters: [
        { id: 'alpha', kubeconfig: './alpha.kubeconfig', primary: true },
        { id: 'beta', kubeconfig: './beta.kubeconfig' },
      ],
      debounce: { quietMs: 20, maxMs: 200 },
      discovery: { staleAfterMs: STALE_AFTER_MS, readinessTimeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 500 } },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const c of ads) c.close();
    await meridian.stop();
    await Promise.all(backends.map((b) => b.close()));
    await Promise.all([alpha, beta, gamma].map((c) => c.api.close()));
    ws.remove();
  });

  it('syncs the configured clusters before serving and merges their endpoints', async () => {
    const { body: ready } = await meridian.getJson<{ ready: boolean }>('/readyz');
    assert.equal(ready.ready, true);
    assert.deepEqual(await echoEndpoints(), ['alpha:127.0.0.31:healthy', 'beta:127.0.0.41:healthy']);
    const z = await clusterz();
    assert.deepEqual(z.clusters.map((c) => [c.id, c.state]), [['alpha', 'Synced'], ['beta', 'Synced']]);
    assert.deepEqual(await backendsAnswering(xdsClient('anywhere', undefined)), ['alpha', 'beta']);
  });

  it('adds a cluster from a remote secret at run time and serves it to gRPC clients', async () => {
    alpha.api.upsert(remoteSecret('remote-gamma', { gamma: gamma.api.kubeconfigYaml({ token: gamma.token }) }));
    await eventually('gamma endpoints merged', async () => ((await echoEndpoints()).includes('gamma:127.0.0.51:healthy') ? true : undefined));
    assert.equal((await clusterz()).clusters.find((c) => c.id === 'gamma')?.origin, `secret:${SYSTEM_NAMESPACE}/remote-gamma`);
    assert.deepEqual(await backendsAnswering(xdsClient('in-gamma', 'r-gamma', 'gamma'), 4), ['gamma']);
    assert.deepEqual(await backendsAnswering(xdsClient('three-clusters', undefined), 24), ['alpha', 'beta', 'gamma']);
  });

  it('swaps rotated credentials without a gap in endpoints', async () => {
    const client = AdsTestClient.connect(meridian.xdsAddress, { id: 'rotation-watcher', metadata: { CLUSTER_ID: 'alpha' } });
    ads.push(client);
    const first = await client.requestAck(TypeUrls.Endpoint, [ECHO_CLUSTER]);
    const count = (r: typeof first) =>
      ((r.resources[0]?.['endpoints'] as Array<{ lb_endpoints: unknown[] }> | undefined) ?? []).reduce((n, l) => n + l.lb_endpoints.length, 0);
    assert.equal(count(first), 3);
    gamma.api.addToken('token-gamma-2', { username: `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian-reader` });
    alpha.api.upsert(remoteSecret('remote-gamma', { gamma: gamma.api.kubeconfigYaml({ token: 'token-gamma-2' }) }));
    await eventually('gamma reads with the new token', () =>
      gamma.api.requests({ user: `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian-reader` }).some((r) => r.query['watch'] === 'true' && r.time > Date.now() - 10_000) ? true : undefined,
    );
    await eventually('old connection replaced', async () => ((await clusterz()).clusters.find((c) => c.id === 'gamma') ? true : undefined));
    gamma.api.removeToken(gamma.token); // the old credentials stop working
    gamma.api.dropWatches({ abrupt: true });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await stateOf('gamma'), 'Synced', 'the new connection serves');
    // Whatever was pushed meanwhile never dropped gamma's endpoints.
    while (!(await client.quiet(100))) assert.equal(count(await client.next()), 3);
  });

  it('rejects a kubeconfig with exec in a remote secret, naming the field', async () => {
    const kubeconfig = `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${gamma.api.url}"}}]\nusers: [{name: u, user: {exec: {command: /bin/sh, apiVersion: client.authentication.k8s.io/v1}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`;
    alpha.api.upsert(remoteSecret('remote-evil', { evil: kubeconfig }));
    const error = await eventually('rejection reported', async () =>
      (await clusterz()).remoteSecrets?.secrets.find((s) => s.secret.endsWith('remote-evil'))?.clusters[0]?.error ?? undefined,
    );
    assert.match(error, /users\[0\]\.user\.exec: exec plugins are not allowed/);
    assert.equal((await clusterz()).clusters.some((c) => c.id === 'evil'), false);
    assert.ok(meridian.logs.some((l) => l.msg === 'remote secret kubeconfig rejected' && l['cluster'] === 'evil'));
  });

  it('reports what a remote cluster\'s credentials may not read', async () => {
    const limited = await startKubeCluster('limited', 'r-limited');
    try {
      limited.api.setAuthorization([
        {
          user: `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian-reader`,
          rules: [
            { verbs: ['list', 'watch'], apiGroups: [''], resources: ['services', 'namespaces', 'nodes'] },
            ...POLICY_RESOURCES.map((r) => ({ verbs: ['list', 'watch'], apiGroups: [r.group], resources: [r.plural] })),
            { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectrulesreviews'] },
          ],
        },
      ]);
      alpha.api.upsert(remoteSecret('remote-limited', { limited: limited.api.kubeconfigYaml({ token: limited.token }) }));
      const missing = await eventually('missing permissions reported', async () => {
        const c = (await clusterz()).clusters.find((x) => x.id === 'limited');
        return c?.missingPermissions?.length ? c.missingPermissions : undefined;
      });
      assert.deepEqual([...missing].sort(), ['list endpointslices.discovery.k8s.io', 'list pods', 'watch endpointslices.discovery.k8s.io', 'watch pods']);
      assert.ok(meridian.logs.some((l) => l.msg === 'cluster credentials lack permissions Meridian needs' && l['cluster'] === 'limited'));
      alpha.api.remove({ apiVersion: 'v1', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: 'remote-limited' });
      await eventually('limited removed', async () => ((await clusterz()).clusters.some((c) => c.id === 'limited') ? undefined : true));
    } finally {
      await limited.api.close();
    }
  });

  it('keeps an unreachable cluster serving (Degraded), demotes it when Stale, and recovers', async () => {
    const inBeta = xdsEchoClient('xds:///echo.demo.svc.cluster.local:7070', {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id: 'in-beta', locality: { region: 'r-beta' }, metadata: { CLUSTER_ID: 'beta' } },
    });
    clients.push(inBeta);
    assert.deepEqual(await backendsAnswering(inBeta, 4), ['beta']);
    await beta.api.stop();
    await eventually('beta Degraded', async () => ((await stateOf('beta')) === 'Degraded' ? true : undefined), 5000);
    assert.ok((await echoEndpoints()).includes('beta:127.0.0.41:healthy'), 'a degraded cluster keeps its endpoints');
    assert.deepEqual(await backendsAnswering(inBeta, 4), ['beta'], 'and they still serve');

    // Other clusters keep converging meanwhile.
    alpha.setEcho([{ ip: '127.0.0.31' }, { ip: '127.0.0.32', ready: false }], port);
    await eventually('alpha change converges', async () => ((await echoEndpoints()).includes('alpha:127.0.0.32:unhealthy') ? true : undefined));

    await eventually('beta Stale', async () => ((await stateOf('beta')) === 'Stale' ? true : undefined), STALE_AFTER_MS + 5000);
    assert.ok((await echoEndpoints()).includes('beta:127.0.0.41:healthy'), 'stale endpoints are never silently deleted');
    await eventually('traffic prefers fresh clusters over the stale one', async () => {
      const seen = await backendsAnswering(inBeta, 6);
      return seen.includes('beta') ? undefined : seen;
    });

    await beta.api.start();
    await eventually('beta Synced again', async () => ((await stateOf('beta')) === 'Synced' ? true : undefined), 10_000);
    await eventually('traffic back in beta', async () => {
      const seen = await backendsAnswering(inBeta, 4);
      return seen.length === 1 && seen[0] === 'beta' ? true : undefined;
    });
  });

  it('recovers from 410 Gone and dropped watches without losing events', async () => {
    beta.api.dropWatches();
    beta.setEcho([{ ip: '127.0.0.41' }, { ip: '127.0.0.42' }], port);
    beta.api.compact({ expireWatches: true });
    beta.setEcho([{ ip: '127.0.0.41' }, { ip: '127.0.0.43', ready: false }], port);
    beta.api.dropWatches({ abrupt: true });
    beta.setEcho([{ ip: '127.0.0.41' }, { ip: '127.0.0.44' }], port);
    await eventually(
      'registry equals the API server state',
      async () => {
        const beta = (await echoEndpoints()).filter((e) => e.startsWith('beta:'));
        return beta.join() === ['beta:127.0.0.41:healthy', 'beta:127.0.0.44:healthy'].join() ? beta : undefined;
      },
      15_000,
    );
  });

  it('removes a remote cluster with its secret', async () => {
    alpha.api.remove({ apiVersion: 'v1', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: 'remote-gamma' });
    await eventually('gamma gone', async () => ((await echoEndpoints()).some((e) => e.startsWith('gamma:')) ? undefined : true));
    assert.equal((await clusterz()).clusters.some((c) => c.id === 'gamma'), false);
  });

  it('never pushes empty endpoints while a new remote is still syncing', async () => {
    const client = AdsTestClient.connect(meridian.xdsAddress, { id: 'sync-watcher', metadata: { CLUSTER_ID: 'alpha' } });
    ads.push(client);
    let before = await client.requestAck(TypeUrls.Endpoint, [ECHO_CLUSTER]);
    // Let earlier tests' pushes (the removal of gamma) finish first.
    while (!(await client.quiet(300))) {
      before = await client.next();
      client.ack(before, [ECHO_CLUSTER]);
    }
    assert.ok(!JSON.stringify(before.resources).includes('127.0.0.51'));
    const release = gamma.api.holdRequests({ resource: 'endpointslices.discovery.k8s.io' });
    alpha.api.upsert(remoteSecret('remote-gamma-2', { gamma: gamma.api.kubeconfigYaml({ token: 'token-gamma-2' }) }));
    await eventually('gamma added, syncing', async () => ((await stateOf('gamma')) === 'Syncing' ? true : undefined));
    if (!(await client.quiet(500))) {
      const r = await client.next();
      assert.fail(`pushed while syncing: ${JSON.stringify(r.resources)} before: ${JSON.stringify(before.resources)}`);
    }
    release();
    const after = await client.next(10_000);
    const addresses = JSON.stringify(after.resources);
    assert.ok(addresses.includes('127.0.0.51'), 'gamma endpoints arrive once synced');
    assert.ok(addresses.includes('127.0.0.31') && addresses.includes('127.0.0.41'), 'others never left');
    assert.notEqual(after.version_info, before.version_info);
  });
});

describe('readiness with a configured cluster that never syncs', () => {
  it('waits up to the timeout, then serves and names the missing cluster', async () => {
    const ws = new Workspace();
    const up = await startKubeCluster('up', 'r1');
    const down = await startKubeCluster('down', 'r2');
    try {
      ws.write('up.kubeconfig', up.api.kubeconfigYaml({ token: up.token }));
      ws.write('down.kubeconfig', down.api.kubeconfigYaml({ token: down.token }));
      await down.api.stop();
      const config = ws.writeConfig({
        namespace: SYSTEM_NAMESPACE,
        clusters: [
          { id: 'up', kubeconfig: './up.kubeconfig', primary: true },
          { id: 'down', kubeconfig: './down.kubeconfig' },
        ],
        discovery: { readinessTimeoutMs: 1500, backoff: { initialMs: 100, maxMs: 300 } },
      });
      const started = Date.now();
      const meridian = await MeridianProcess.start(['serve', '--config', config]);
      try {
        assert.ok(Date.now() - started >= 1400, 'the gRPC port waited for the readiness timeout');
        const { status, body } = await meridian.getJson<{ ready: boolean; missing?: string[] }>('/readyz');
        assert.equal(status, 200);
        assert.deepEqual(body.missing, ['down']);
        assert.ok(meridian.logs.some((l) => l.msg.startsWith('clusters not synced within the readiness timeout')));
        await down.api.start();
        await eventually('down syncs later', async () => {
          const r = await meridian.getJson<{ missing?: string[] }>('/readyz');
          return r.body.missing === undefined ? true : undefined;
        });
      } finally {
        await meridian.stop();
      }
    } finally {
      await up.api.close();
      await down.api.close();
      ws.remove();
    }
  });
});
