// CRUD, list semantics and discovery, through the real @kubernetes/client-node.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeApiServer } from './server.ts';
import { statusBodyOf, statusCodeOf } from './test-support.ts';

async function rejectsWith(p: Promise<unknown>, code: number, reason: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(statusCodeOf(err), code);
    const body = statusBodyOf(err);
    assert.equal(body.kind, 'Status');
    assert.equal(body.reason, reason);
    assert.equal(body.code, code);
    return true;
  });
}

describe('REST verbs', () => {
  let server: KubeApiServer;
  let core: k8s.CoreV1Api;
  let discovery: k8s.DiscoveryV1Api;
  before(async () => {
    server = await KubeApiServer.start();
    const kc = server.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  });
  after(() => server.close());

  it('creates, reads, replaces, patches and deletes, changing the RV on each write', async () => {
    const created = await core.createNamespacedService({
      namespace: 'crud',
      body: { metadata: { name: 'web', labels: { app: 'web' } }, spec: { ports: [{ port: 80 }] } },
    });
    assert.equal(created.metadata?.namespace, 'crud');
    assert.ok(created.metadata?.uid);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);
    const rv1 = created.metadata?.resourceVersion ?? '';
    assert.match(rv1, /^\d+$/);
    assert.match(created.spec?.clusterIP ?? '', /^10\.\d+\.\d+\.\d+$/);

    const read = await core.readNamespacedService({ name: 'web', namespace: 'crud' });
    assert.equal(read.metadata?.uid, created.metadata?.uid);

    const replaced = await core.replaceNamespacedService({
      name: 'web',
      namespace: 'crud',
      body: { ...read, metadata: { ...read.metadata, labels: { app: 'web', v: '2' } } },
    });
    assert.notEqual(replaced.metadata?.resourceVersion, rv1);
    assert.equal(replaced.spec?.clusterIP, created.spec?.clusterIP, 'ClusterIP survives a replace');

    // client-node 2.x sends application/json-patch+json by default.
    const jsonPatched = await core.patchNamespacedService({
      name: 'web',
      namespace: 'crud',
      body: [{ op: 'add', path: '/metadata/labels/tier', value: 'fe' }],
    });
    assert.equal(jsonPatched.metadata?.labels?.['tier'], 'fe');
    const merged = await core.patchNamespacedService(
      { name: 'web', namespace: 'crud', body: { metadata: { labels: { v: null, extra: 'y' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    assert.deepEqual(merged.metadata?.labels, { app: 'web', tier: 'fe', extra: 'y' });
    assert.ok(Number(merged.metadata?.resourceVersion) > Number(jsonPatched.metadata?.resourceVersion));

    // A replace carrying a stale RV is refused (optimistic concurrency).
    await rejectsWith(core.replaceNamespacedService({ name: 'web', namespace: 'crud', body: replaced }), 409, 'Conflict');

    await core.deleteNamespacedService({ name: 'web', namespace: 'crud' });
    await rejectsWith(core.readNamespacedService({ name: 'web', namespace: 'crud' }), 404, 'NotFound');
    await rejectsWith(core.deleteNamespacedService({ name: 'web', namespace: 'crud' }), 404, 'NotFound');
  });

  it('answers 409 AlreadyExists on a duplicate create and 400 on a namespace mismatch', async () => {
    await core.createNamespacedSecret({ namespace: 'dup', body: { metadata: { name: 's' }, stringData: { k: 'v' } } });
    await rejectsWith(core.createNamespacedSecret({ namespace: 'dup', body: { metadata: { name: 's' } } }), 409, 'AlreadyExists');
    await rejectsWith(core.createNamespacedSecret({ namespace: 'dup', body: { metadata: { name: 't', namespace: 'other' } } }), 400, 'BadRequest');
    const secret = await core.readNamespacedSecret({ name: 's', namespace: 'dup' });
    assert.equal(secret.data?.['k'], Buffer.from('v').toString('base64'));
  });

  it('serves cluster-scoped kinds, group APIs and the status subresource', async () => {
    await core.createNode({ body: { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } } } });
    const node = await core.readNode({ name: 'n1' });
    assert.equal(node.metadata?.namespace, undefined);
    const status = await core.replaceNodeStatus({ name: 'n1', body: { ...node, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } } });
    assert.equal(status.status?.addresses?.[0]?.address, '10.0.0.1');

    await discovery.createNamespacedEndpointSlice({
      namespace: 'eps',
      body: {
        addressType: 'IPv4',
        metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
        endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080 }],
      },
    });
    const all = await discovery.listEndpointSliceForAllNamespaces({ labelSelector: 'kubernetes.io/service-name=web' });
    assert.equal(all.items.length, 1);
    assert.equal(all.items[0]?.endpoints?.[0]?.conditions?.ready, true);
    const nsList = await discovery.listNamespacedEndpointSlice({ namespace: 'eps' });
    assert.equal(nsList.items[0]?.metadata?.name, 'web-abc');
  });

  it('filters lists by label and field selectors', async () => {
    const s = await KubeApiServer.start();
    after(() => s.close());
    const c = s.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const pods: [string, string, Record<string, string>][] = [
      ['a', 'ns1', { app: 'web', tier: 'fe' }],
      ['b', 'ns1', { app: 'db' }],
      ['c', 'ns2', { app: 'web' }],
      ['d', 'ns2', {}],
    ];
    for (const [name, namespace, labels] of pods) s.upsert({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels } });
    const names = async (q: { labelSelector?: string; fieldSelector?: string }): Promise<string[]> =>
      (await c.listPodForAllNamespaces(q)).items.map((p) => p.metadata?.name ?? '');
    assert.deepEqual(await names({ labelSelector: 'app=web' }), ['a', 'c']);
    assert.deepEqual(await names({ labelSelector: 'app!=web' }), ['b', 'd']);
    assert.deepEqual(await names({ labelSelector: 'app in (db,web),tier' }), ['a']);
    assert.deepEqual(await names({ labelSelector: '!app' }), ['d']);
    assert.deepEqual(await names({ fieldSelector: 'metadata.namespace=ns2' }), ['c', 'd']);
    assert.deepEqual(await names({ fieldSelector: 'metadata.name=b' }), ['b']);
    await rejectsWith(names({ labelSelector: 'app in web' }), 400, 'BadRequest');
  });

  it('pages with limit/continue over a consistent snapshot, and 410 once compacted', async () => {
    const s = await KubeApiServer.start();
    after(() => s.close());
    const c = s.kubeConfig().makeApiClient(k8s.CoreV1Api);
    for (const n of ['s1', 's2', 's3', 's4', 's5']) s.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: n, namespace: 'p' } });

    const page1 = await c.listNamespacedService({ namespace: 'p', limit: 2 });
    assert.deepEqual(page1.items.map((i) => i.metadata?.name), ['s1', 's2']);
    assert.equal(page1.metadata?.remainingItemCount, 3);
    const token = page1.metadata?._continue;
    assert.ok(token);
    // Changes after the first page do not show in later pages: the list is one snapshot.
    s.remove({ apiVersion: 'v1', kind: 'Service', namespace: 'p', name: 's3' });
    const page2 = await c.listNamespacedService({ namespace: 'p', limit: 2, _continue: token });
    assert.deepEqual(page2.items.map((i) => i.metadata?.name), ['s3', 's4']);
    assert.equal(page2.metadata?.resourceVersion, page1.metadata?.resourceVersion);
    const page3 = await c.listNamespacedService({ namespace: 'p', limit: 2, _continue: page2.metadata?._continue ?? '' });
    assert.deepEqual(page3.items.map((i) => i.metadata?.name), ['s5']);
    assert.equal(page3.metadata?._continue, undefined);

    s.compact();
    await rejectsWith(c.listNamespacedService({ namespace: 'p', limit: 2, _continue: page2.metadata?._continue ?? '' }), 410, 'Expired');
    await rejectsWith(c.listNamespacedService({ namespace: 'p', _continue: 'garbage' }), 400, 'BadRequest');
  });

  it('lists carry Content-Type application/json, a list RV, and items without kind', async () => {
    const res = await fetch(`${server.url}/api/v1/services`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const body = (await res.json()) as { kind: string; apiVersion: string; metadata: { resourceVersion: string }; items: { kind?: string }[] };
    assert.equal(body.kind, 'ServiceList');
    assert.equal(body.apiVersion, 'v1');
    assert.equal(body.metadata.resourceVersion, server.resourceVersion);
  });

  it('serves discovery well enough for KubernetesObjectApi and VersionApi', async () => {
    const kc = server.kubeConfig();
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.equal(version.major, '1');
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    // KubernetesObjectApi reads /api/v1 and /apis/<g>/<v> to learn plural names and scope.
    await objects.create({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'x', namespace: 'generic' }, addressType: 'IPv4', endpoints: [] } as k8s.KubernetesObject);
    await objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'generic' } });
    const ns = await objects.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'generic' } });
    assert.equal(ns.metadata?.labels?.['kubernetes.io/metadata.name'], 'generic');
    const apis = (await (await fetch(`${server.url}/apis`)).json()) as { groups: { name: string }[] };
    assert.ok(apis.groups.some((g) => g.name === 'discovery.k8s.io'));
    const api = (await (await fetch(`${server.url}/api`)).json()) as { versions: string[] };
    assert.deepEqual(api.versions, ['v1']);
    const v1 = (await (await fetch(`${server.url}/api/v1`)).json()) as { resources: { name: string }[] };
    assert.ok(v1.resources.some((r) => r.name === 'serviceaccounts/token'));
  });

  it('seeds from Kubernetes YAML, including List documents', async () => {
    const s = await KubeApiServer.start({
      seed: `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: cart, namespace: shop}
  spec: {ports: [{port: 8080}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: cart-1, namespace: shop, labels: {kubernetes.io/service-name: cart}}
  addressType: IPv4
  endpoints: [{addresses: [10.0.0.5]}]
`,
    });
    after(() => s.close());
    const c = s.kubeConfig().makeApiClient(k8s.CoreV1Api);
    assert.equal((await c.readNamespacedService({ name: 'cart', namespace: 'shop' })).spec?.ports?.[0]?.port, 8080);
    assert.equal(s.list('discovery.k8s.io/v1', 'EndpointSlice', 'shop').length, 1);
    assert.throws(() => s.upsert({ apiVersion: 'v9', kind: 'Nope', metadata: { name: 'x' } }), /unknown kind/);
  });
});
