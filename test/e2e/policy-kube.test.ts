/**
 * Policy from Kubernetes: `meridian serve` watches Istio's and the Gateway API's CRDs in
 * every cluster (`policy.sources: all`) through the real @kubernetes/client-node against the
 * test API server. A cluster without the CRDs is normal and stays Synced; a change or a
 * deletion in the API is picked up while running; a cluster whose API goes away keeps its
 * last policies (Degraded), as it keeps its endpoints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeApiServer } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { POLICY_CRDS } from '../support/policy-crds.ts';

interface Policyz {
  objects: Array<{ cluster: string; ref?: { kind: string; name: string }; state: string; origin: string }>;
}
interface Clusterz {
  clusters: Array<{ id: string; state: string; source: { informers?: Array<{ name: string; state: string }> } }>;
}

const virtualService = (name: string, timeout: string) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'demo' },
  spec: { hosts: [name], http: [{ timeout, route: [{ destination: { host: name } }] }] },
});

describe('policy from the Kubernetes API of every cluster', () => {
  const ws = new Workspace();
  let alpha: KubeApiServer;
  let beta: KubeApiServer;
  let gamma: KubeApiServer;
  let meridian: MeridianProcess;

  const policyz = async () => (await meridian.getJson<Policyz>('/debug/policyz')).body;
  const find = (p: Policyz, cluster: string, name: string) => p.objects.find((o) => o.cluster === cluster && o.ref?.name === name);
  const clusterz = async () => (await meridian.getJson<Clusterz>('/debug/clusterz')).body;

  before(async () => {
    [alpha, beta, gamma] = await Promise.all([KubeApiServer.start({ resources: POLICY_CRDS }), KubeApiServer.start({ resources: POLICY_CRDS }), KubeApiServer.start()]);
    for (const api of [alpha, beta, gamma]) api.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    alpha.upsert(virtualService('echo', '2s'));
    beta.upsert(virtualService('search', '1s'));
    const clusters = (['alpha', 'beta', 'gamma'] as const).map((id, i) => {
      ws.write(`${id}.kubeconfig`, [alpha, beta, gamma][i]?.kubeconfigYaml() ?? '');
      return { id, kubeconfig: `./${id}.kubeconfig`, ...(id === 'alpha' ? { primary: true } : {}) };
    });
    const config = ws.writeConfig({ clusters, discovery: { staleAfterMs: 60_000, backoff: { initialMs: 100, maxMs: 500 } } });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    await meridian?.stop();
    await Promise.all([alpha, beta, gamma].map((a) => a?.close()));
    ws.remove();
  });

  it('reads policy objects from each cluster that has the CRDs; a cluster without them is Synced, its kinds absent', async () => {
    const p = await eventually('both objects read', async () => {
      const body = await policyz();
      return find(body, 'alpha', 'echo') && find(body, 'beta', 'search') ? body : undefined;
    });
    assert.equal(find(p, 'alpha', 'echo')?.state, 'Accepted');
    assert.match(find(p, 'alpha', 'echo')?.origin ?? '', /^VirtualService demo\/echo \(resourceVersion \d+\)$/);
    const c = await clusterz();
    const g = c.clusters.find((x) => x.id === 'gamma');
    assert.equal(g?.state, 'Synced');
    assert.equal(g?.source.informers?.find((i) => i.name === 'VirtualService')?.state, 'absent');
    assert.equal(c.clusters.find((x) => x.id === 'alpha')?.source.informers?.find((i) => i.name === 'VirtualService')?.state, 'synced');
  });

  it('picks up a change and a deletion in the API while running', async () => {
    const before = find(await policyz(), 'alpha', 'echo')?.origin;
    alpha.upsert(virtualService('echo', '5s'));
    await eventually('the new version read', async () => {
      const origin = find(await policyz(), 'alpha', 'echo')?.origin;
      return origin && origin !== before ? true : undefined;
    });
    alpha.upsert(virtualService('extra', '1s'));
    await eventually('the added object read', async () => (find(await policyz(), 'alpha', 'extra') ? true : undefined));
    alpha.remove({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: 'demo', name: 'extra' });
    await eventually('the deleted object gone', async () => (find(await policyz(), 'alpha', 'extra') ? undefined : true));
  });

  it('a cluster whose API goes away keeps its last policies, Degraded', async () => {
    await beta.stop();
    await eventually('beta Degraded', async () => ((await clusterz()).clusters.find((x) => x.id === 'beta')?.state === 'Degraded' ? true : undefined), 10_000);
    assert.equal(find(await policyz(), 'beta', 'search')?.state, 'Accepted');
  });
});

describe('policy.sources: primary', () => {
  const ws = new Workspace();
  let apis: KubeApiServer[] = [];
  let meridian: MeridianProcess;

  after(async () => {
    await meridian?.stop();
    await Promise.all(apis.map((a) => a.close()));
    ws.remove();
  });

  it('reads policy CRDs of the primary cluster only; a remote cluster is read for discovery alone', async () => {
    apis = await Promise.all([KubeApiServer.start({ resources: POLICY_CRDS }), KubeApiServer.start({ resources: POLICY_CRDS })]);
    const [primary, remote] = apis as [KubeApiServer, KubeApiServer];
    primary.upsert(virtualService('echo', '2s'));
    remote.upsert(virtualService('search', '1s'));
    ws.write('primary.kubeconfig', primary.kubeconfigYaml());
    ws.write('remote.kubeconfig', remote.kubeconfigYaml());
    const config = ws.writeConfig({
      policy: { sources: 'primary' },
      clusters: [{ id: 'remote', kubeconfig: './remote.kubeconfig' }, { id: 'main', kubeconfig: './primary.kubeconfig', primary: true }],
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    const p = await eventually('the primary read', async () => {
      const body = (await meridian.getJson<Policyz>('/debug/policyz')).body;
      return body.objects.length > 0 ? body : undefined;
    });
    assert.deepEqual(p.objects.map((o) => [o.cluster, o.ref?.name]), [['main', 'echo']]);
    assert.equal(remote.requests().filter((r) => r.group === 'networking.istio.io').length, 0, 'the remote API was never asked for policy');
  });
});
