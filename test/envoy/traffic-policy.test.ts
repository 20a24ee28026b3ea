/**
 * Istio traffic policy through real Envoy sidecars, checked on what the echo apps received:
 * a DestinationRule with subsets by label (v1 in cluster east, v2 in west) and one
 * VirtualService whose rules route by header, inject an abort and a delay, rewrite the path
 * and set a header, and split the rest 80/20 between the subsets
 * (https://istio.io/latest/docs/reference/config/networking/virtual-service/).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { echoRoutes, node, versionSubsets, yamlDocs } from '../support/manifests.ts';
import { ECHO_APP_PORTS, ECHO_PORTS, serviceManifests } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO_VIP = '10.96.0.30';
const LEDGER_VIP = '10.96.0.31';
const ECHO_HOST = 'echo.demo.svc.cluster.local';
const HTTP = ECHO_PORTS.http;
const destination = (subset: string) => ({ destination: { host: ECHO_HOST, subset } });

/** The version subsets, and one pinned to a cluster by Istio's cluster label. */
const SUBSETS = versionSubsets(ECHO_HOST) as { spec: { subsets: object[] } };
SUBSETS.spec.subsets.push({ name: 'in-west', labels: { 'topology.istio.io/cluster': 'west' } });

const POLICY = yamlDocs(
  SUBSETS,
  echoRoutes([
    { name: 'canary', match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: [destination('v2')] },
    { name: 'pinned', match: [{ headers: { 'x-pin': { exact: 'west' } } }], route: [destination('in-west')] },
    { name: 'teapot', match: [{ uri: { prefix: '/abort' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [destination('v1')] },
    { name: 'slow', match: [{ uri: { prefix: '/slow' } }], fault: { delay: { fixedDelay: '400ms', percentage: { value: 100 } } }, route: [destination('v1')] },
    { name: 'moved', match: [{ uri: { prefix: '/old' } }], rewrite: { uri: '/new' }, headers: { request: { set: { 'x-policy': 'applied' } } }, route: [destination('v1')] },
    { name: 'flaky', match: [{ uri: { prefix: '/flaky' } }], retries: { attempts: 3, retryOn: '5xx' }, route: [destination('v1')] },
    { name: 'once', match: [{ uri: { prefix: '/once' } }], retries: { attempts: 0 }, route: [destination('v1')] },
    { name: 'deadline', match: [{ uri: { prefix: '/deadline' } }], timeout: '300ms', route: [destination('v1')] },
    {
      name: 'browser',
      match: [{ uri: { prefix: '/api' } }],
      corsPolicy: { allowOrigins: [{ exact: 'https://shop.example.com' }, { regex: 'https://.*\\.internal\\.example' }], allowMethods: ['GET', 'POST'], allowHeaders: ['x-user'], exposeHeaders: ['x-trace'], maxAge: '1h', allowCredentials: true },
      route: [destination('v1')],
    },
    { name: 'shadow', match: [{ uri: { prefix: '/mirror' } }], mirror: { host: ECHO_HOST, subset: 'v2' }, mirrorPercentage: { value: 100 }, route: [destination('v1')] },
    { name: 'split', route: [{ ...destination('v1'), weight: 80 }, { ...destination('v2'), weight: 20 }] },
  ], [
    // TCP connections to the echo TCP port: all to v2 (west), whatever locality would prefer.
    { match: [{ port: ECHO_PORTS.tcp.port }], route: [{ destination: { host: ECHO_HOST, subset: 'v2', port: { number: ECHO_PORTS.tcp.port } } }] },
  ]),
);

describe('Istio traffic policy through Envoy sidecars', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let v1: Workload;
  let v2: Workload;
  const pods: Record<string, Pod> = {};

  async function get(path: string, headers?: Record<string, string>): Promise<{ status: number; pod: string; got?: Received }> {
    const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, path, timeoutMs: 5000, ...(headers ? { headers } : {}) });
    if (a.status !== 200) return { status: a.status, pod: `HTTP ${a.status}` };
    const got = JSON.parse(a.body) as Received;
    return { status: a.status, pod: got.pod, got };
  }

  before(async () => {
    mesh = new EnvoyMesh();
    for (const name of ['sleep-east-0', 'echo-east-0', 'echo-west-0']) pods[name] = mesh.bed.addPod(name);
    const at = (name: string): Pod => {
      const pod = pods[name];
      assert.ok(pod);
      return pod;
    };
    for (const [cluster, region, version] of [['east', 'us-east', 'v1'], ['west', 'us-west', 'v2']] as const) {
      mkdirSync(mesh.ws.path(cluster));
      writeFileSync(mesh.ws.path(cluster, 'nodes.yaml'), yamlDocs(node(`${cluster}-node`, region, `${region}-1a`)));
      const pod = at(`echo-${cluster}-0`);
      writeFileSync(
        mesh.ws.path(cluster, 'echo.yaml'),
        [
          serviceManifests({ name: 'echo', namespace: 'demo', vip: ECHO_VIP, ports: Object.values(ECHO_PORTS), cluster, pods: [{ name: pod.name, address: pod.address, serviceAccount: 'echo', labels: { version } }] }),
          // A service of another namespace, for the Sidecar scope to leave out.
          serviceManifests({ name: 'ledger', namespace: 'finance', vip: LEDGER_VIP, ports: [ECHO_PORTS.http], cluster, pods: [] }),
        ].join('---\n'),
      );
    }
    writeFileSync(mesh.ws.path('east', 'policy.yaml'), POLICY);
    await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
    [client, v1, v2] = await Promise.all([
      mesh.sidecar(at('sleep-east-0'), { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} }),
      mesh.sidecar(at('echo-east-0'), { cluster: 'east', namespace: 'demo', serviceAccount: 'echo', locality: 'us-east/us-east-1a', ports: ECHO_APP_PORTS }),
      mesh.sidecar(at('echo-west-0'), { cluster: 'west', namespace: 'demo', serviceAccount: 'echo', locality: 'us-west/us-west-1a', ports: ECHO_APP_PORTS }),
    ]);
    // Both subsets answer: the sidecar has the routes, the subset clusters and their endpoints.
    await eventually('the canary header reaching v2', async () => ((await get('/', { 'x-canary': 'yes' })).pod === 'echo-west-0' ? true : undefined), 20_000, 100);
    await eventually('the rewrite rule reaching v1', async () => ((await get('/old')).pod === 'echo-east-0' ? true : undefined), 20_000, 100);
  });

  after(() => mesh.closeChecked());

  it('a header match routes to its subset, every time; without the header the split applies', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get('/any', { 'x-canary': 'yes' })).pod, 'echo-west-0');
    const other = await get('/any', { 'x-canary': 'no' });
    assert.ok(['echo-east-0', 'echo-west-0'].includes(other.pod), other.pod);
  });

  it('an 80/20 split between subsets holds over 500 requests (within 4.5 standard deviations)', async () => {
    const n = 500;
    let v2 = 0;
    for (let i = 0; i < n; i++) {
      const { pod } = await get(`/split/${i}`);
      assert.ok(pod === 'echo-east-0' || pod === 'echo-west-0', pod);
      if (pod === 'echo-west-0') v2++;
    }
    // Binomial(500, 0.2): mean 100, standard deviation sqrt(500 · 0.2 · 0.8) ≈ 8.9.
    const sd = Math.sqrt(n * 0.2 * 0.8);
    assert.ok(Math.abs(v2 - n * 0.2) <= 4.5 * sd, `v2 got ${v2} of ${n}`);
    console.log(`# envoy split: v2 got ${v2} of ${n} (${((100 * v2) / n).toFixed(1)}%)`);
  });

  it('fault abort answers for the backend, and the backend never sees the request', async () => {
    const before = await client.envoy.stats('fault.aborts_injected');
    assert.equal((await get('/abort/me')).status, 418);
    const after = await client.envoy.stats('fault.aborts_injected');
    const aborts = (s: Map<string, number>) => [...s].filter(([k]) => k.endsWith('fault.aborts_injected')).reduce((n, [, v]) => n + v, 0);
    assert.equal(aborts(after) - aborts(before), 1);
  });

  it('fault delay holds the request for the fixed delay, then it reaches the backend', async () => {
    const started = performance.now();
    const slow = await get('/slow/me');
    const elapsed = performance.now() - started;
    assert.equal(slow.pod, 'echo-east-0');
    assert.ok(elapsed >= 390, `answered after ${Math.round(elapsed)} ms`);
  });

  it('mirroring: v1 answers, and v2 receives a copy of every request', async () => {
    const inbound = `cluster.inbound|${HTTP.target}||.upstream_rq_total`;
    const count = async (w: Workload) => (await w.envoy.stats(inbound)).get(inbound) ?? 0;
    const before = await count(v2);
    for (let i = 0; i < 5; i++) assert.equal((await get(`/mirror/${i}`)).pod, 'echo-east-0');
    // The copies are sent without waiting for their answers: counted once they arrive.
    await eventually('v2 receiving the 5 copies', async () => ((await count(v2)) - before === 5 ? true : undefined), 10_000, 100);
    const stats = await client.envoy.stats('upstream_rq_total');
    assert.ok((stats.get(`cluster.outbound|${HTTP.port}|v2|${ECHO_HOST}.upstream_rq_total`) ?? 0) >= 5, 'the copies went through the v2 subset cluster');
  });

  it('a rewrite changes the path the backend sees, and the rule sets a request header', async () => {
    const { got } = await get('/old/page');
    assert.equal(got?.path, '/new/page');
    assert.equal(got?.headers['x-policy'], 'applied');
  });

  it('corsPolicy: a preflight from an allowed origin is answered by the sidecar, another origin gets no grant', async () => {
    const preflight = (origin: string) =>
      client.app.http1({
        host: ECHO_VIP,
        port: HTTP.port,
        authority: `${ECHO_HOST}:${HTTP.port}`,
        path: '/api/cart',
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-user' },
        timeoutMs: 5000,
      });
    const allowed = await preflight('https://shop.example.com');
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers?.['access-control-allow-origin'], 'https://shop.example.com');
    assert.equal(allowed.headers?.['access-control-allow-methods'], 'GET,POST');
    assert.equal(allowed.headers?.['access-control-allow-headers'], 'x-user');
    assert.equal(allowed.headers?.['access-control-max-age'], '3600');
    assert.equal(allowed.headers?.['access-control-allow-credentials'], 'true');
    const byRegex = await preflight('https://tools.internal.example');
    assert.equal(byRegex.headers?.['access-control-allow-origin'], 'https://tools.internal.example');
    const other = await preflight('https://evil.example.org');
    assert.equal(other.headers?.['access-control-allow-origin'], undefined, 'no grant for another origin');
    // A simple request from the allowed origin reaches the backend and carries the grant back.
    const actual = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, path: '/api/cart', headers: { origin: 'https://shop.example.com' }, timeoutMs: 5000 });
    assert.equal(actual.status, 200);
    assert.equal(actual.headers?.['access-control-allow-origin'], 'https://shop.example.com');
    assert.equal(actual.headers?.['access-control-expose-headers'], 'x-trace');
  });

  it('a tcp route sends every connection to its subset, where locality alone would pick the other cluster', async () => {
    for (let i = 0; i < 5; i++) assert.equal(await client.app.tcp({ host: ECHO_VIP, port: ECHO_PORTS.tcp.port, data: 'ping' }), 'echo-west-0 ping');
    const stats = await client.envoy.stats('upstream_cx_total');
    assert.equal(stats.get(`cluster.outbound|${ECHO_PORTS.tcp.port}|v2|${ECHO_HOST}.upstream_cx_total`), 5, 'through the subset cluster');
  });

  it('a subset by cluster (topology.istio.io/cluster) holds that cluster\'s endpoints only', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await get(`/pinned/${i}`, { 'x-pin': 'west' })).pod, 'echo-west-0');
    const stats = await client.envoy.stats('membership_total');
    assert.equal(stats.get(`cluster.outbound|${HTTP.port}|in-west|${ECHO_HOST}.membership_total`), 1);
  });

  it('the subsets are clusters of their own, each with only its labelled endpoint', async () => {
    const stats = await client.envoy.stats('membership_total');
    assert.equal(stats.get(`cluster.outbound|${HTTP.port}|v1|${ECHO_HOST}.membership_total`), 1);
    assert.equal(stats.get(`cluster.outbound|${HTTP.port}|v2|${ECHO_HOST}.membership_total`), 1);
    assert.equal(stats.get(`cluster.outbound|${HTTP.port}||${ECHO_HOST}.membership_total`), 2);
  });

  it('retries turn a backend failing every other request into successes; the mesh default retries a 503 too; with retries off half fail', async () => {
    await v1.app.setStatus(200, { failEvery: 2 });
    try {
      // One at a time, so the backend's count alternates as each request (and its retry) sees it.
      const retried: number[] = [];
      for (let i = 0; i < 10; i++) retried.push((await get(`/flaky/${i}`)).status);
      assert.deepEqual(retried, Array(10).fill(200));
      const byDefault: number[] = [];
      for (let i = 0; i < 10; i++) byDefault.push((await get(`/old/${i}`)).status);
      assert.deepEqual(byDefault, Array(10).fill(200), 'a rule without retries gets the mesh default (503 retried twice, as in Istio)');
      const once: number[] = [];
      for (let i = 0; i < 10; i++) once.push((await get(`/once/${i}`)).status);
      assert.equal(once.filter((s) => s === 503).length, 5, once.join(','));
    } finally {
      await v1.app.setStatus(200);
    }
  });

  it('a route timeout answers 504 when the backend is slower; a route without one waits', async () => {
    await v1.app.setStatus(200, { delayMs: 1500 });
    try {
      let started = performance.now();
      assert.equal((await get('/deadline/x')).status, 504);
      assert.ok(performance.now() - started < 1200, `cut after ${Math.round(performance.now() - started)} ms`);
      started = performance.now();
      assert.equal((await get('/old/slow')).pod, 'echo-east-0');
      assert.ok(performance.now() - started >= 1450, 'no timeout: the answer came after the delay');
    } finally {
      await v1.app.setStatus(200);
    }
  });
  it('a Sidecar egress scope shrinks what the proxy is sent: another namespace\'s service leaves its clusters, its own stay', async () => {
    const clusterNames = async () => new Set((await client.envoy.admin('/clusters')).split('\n').map((l) => l.split('::')[0] ?? '').filter((n) => n.startsWith('outbound|')));
    const before = await clusterNames();
    assert.ok([...before].some((n) => n.endsWith('|ledger.finance.svc.cluster.local')), 'the unscoped sidecar has every service');
    writeFileSync(
      mesh.ws.path('east', 'sidecar.yaml'),
      yamlDocs({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'demo' }, spec: { egress: [{ hosts: ['./*'] }] } }),
    );
    const after = await eventually('the scope in effect', async () => {
      const names = await clusterNames();
      return [...names].some((n) => n.endsWith('|ledger.finance.svc.cluster.local')) ? undefined : names;
    }, 20_000, 200);
    assert.ok(after.size < before.size, `${after.size} clusters, from ${before.size}`);
    assert.ok([...after].every((n) => n.endsWith(`|${ECHO_HOST}`)), [...after].join(', '));
    assert.equal((await get('/still-here', { 'x-canary': 'yes' })).pod, 'echo-west-0', 'its own namespace still answers');
  });
});
