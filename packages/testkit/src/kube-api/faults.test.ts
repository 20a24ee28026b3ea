// Fault hooks and multi-cluster use: injected 500s, held and delayed requests,
// the request log, and several independent servers.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeApiServer } from './server.ts';
import { eventually, statusBodyOf, statusCodeOf } from './test-support.ts';

async function startServer(): Promise<KubeApiServer> {
  const s = await KubeApiServer.start();
  after(() => s.close());
  return s;
}

describe('fault hooks', () => {
  it('failNext fails the next N requests with a Status body, then recovers', async () => {
    const s = await startServer();
    const core = s.kubeConfig().makeApiClient(k8s.CoreV1Api);
    s.failNext(2);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(core.listNamespacedPod({ namespace: 'a' }), (err: unknown) => {
        assert.equal(statusCodeOf(err), 500);
        assert.equal(statusBodyOf(err).reason, 'InternalError');
        return true;
      });
    }
    await core.listNamespacedPod({ namespace: 'a' });
    assert.deepEqual(s.requests().map((r) => r.status), [500, 500, 200]);
  });

  it('failAll fails matching requests until cleared', async () => {
    const s = await startServer();
    const kc = s.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const disc = kc.makeApiClient(k8s.DiscoveryV1Api);
    s.failAll({ status: 503, match: { resource: 'endpointslices.discovery.k8s.io' } });
    await core.listServiceForAllNamespaces();
    await assert.rejects(disc.listEndpointSliceForAllNamespaces(), (err: unknown) => statusCodeOf(err) === 503);
    await assert.rejects(disc.listEndpointSliceForAllNamespaces(), (err: unknown) => statusCodeOf(err) === 503);
    s.clearFaults();
    await disc.listEndpointSliceForAllNamespaces();
  });

  it('holdRequests keeps a request in flight until released; delay slows responses', async () => {
    const s = await startServer();
    const core = s.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const release = s.holdRequests({ verb: 'get' });
    const pending = core.readNamespacedService({ name: 'late', namespace: 'd' });
    await eventually('request arrived', () => s.requests({ verb: 'get' }).length === 1);
    assert.equal(s.requests({ verb: 'get' })[0]?.status, 0, 'still in flight');
    // Created while the GET is held, so the GET finds it.
    s.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'late', namespace: 'd' } });
    release();
    assert.equal((await pending).metadata?.name, 'late');

    s.delay(50);
    assert.equal((await core.readNamespacedService({ name: 'late', namespace: 'd' })).metadata?.name, 'late');
    s.delay(0);
  });

  it('the request log tells which calls a component made', async () => {
    const s = await startServer();
    const kc = s.kubeConfig();
    const informer = k8s.makeInformer(kc, '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices', () =>
      kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: 'shop' }),
    );
    await informer.start();
    await s.waitForWatches(1, { resource: 'endpointslices.discovery.k8s.io' });
    await informer.stop();
    const calls = s.requests().map((r) => `${r.verb ?? ''} ${r.resource ?? ''} ${r.namespace ?? ''}`);
    assert.deepEqual(calls, ['list endpointslices shop', 'watch endpointslices shop']);
    assert.equal(s.requests({ verb: 'watch' })[0]?.group, 'discovery.k8s.io');
    s.clearRequests();
    assert.deepEqual(s.requests(), []);
  });
});

describe('several clusters', () => {
  it('each server has its own port, state and resourceVersions', async () => {
    const east = await startServer();
    const west = await startServer();
    assert.notEqual(east.port, west.port);
    east.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'only-east', namespace: 'x' } });
    east.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'e2', namespace: 'x' } });
    const westCore = west.kubeConfig().makeApiClient(k8s.CoreV1Api);
    assert.equal((await westCore.listServiceForAllNamespaces()).items.length, 0);
    assert.notEqual(east.resourceVersion, west.resourceVersion);
    const eastCore = east.kubeConfig().makeApiClient(k8s.CoreV1Api);
    assert.equal((await eastCore.listServiceForAllNamespaces()).items.length, 2);
  });

  it('produces kubeconfigs in object and YAML form that client-node loads', async () => {
    const s = await startServer();
    const obj = s.kubeconfig({ token: 't', clusterName: 'east', namespace: 'shop' });
    assert.deepEqual(obj.clusters, [{ name: 'east', server: s.url, skipTLSVerify: true }]);
    const kc = new k8s.KubeConfig();
    kc.loadFromString(s.kubeconfigYaml({ token: 't', clusterName: 'east', namespace: 'shop' }));
    assert.equal(kc.getCurrentCluster()?.server, s.url);
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
    assert.equal(kc.getCurrentUser()?.token, 't');
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'shop');
    // An unknown token is refused even where anonymous requests are allowed, as on a real server.
    await assert.rejects(kc.makeApiClient(k8s.CoreV1Api).listNamespacedService({ namespace: 'shop' }), (err: unknown) => statusCodeOf(err) === 401);
    s.addToken('t', { username: 'alice' });
    await kc.makeApiClient(k8s.CoreV1Api).listNamespacedService({ namespace: 'shop' });
    assert.equal(s.requests().at(-1)?.user, 'alice');
  });
});
