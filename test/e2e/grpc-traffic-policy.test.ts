/**
 * Istio traffic policy for proxyless gRPC (@grpc/grpc-js-xds), end to end through the real
 * `meridian serve`: subsets by label (two VM workloads, v1 and v2), a header match, a fault
 * abort (gRFC A33), a timeout that a delay outlasts (A31), an 80/20 split (A28), and a rule
 * gRPC cannot honour (a query-parameter match) left out for it rather than sent, where it
 * would have matched every call, and reported in /debug/policyz.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startEchoBackend, xdsEchoClient, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { GoEchoClient, assertInSyncWithoutNack, buildGoProgram, skipOrFail, type Built } from '../support/go-interop.ts';
import { echoRoutes, node, versionSubsets, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const HOST = 'echo.demo.svc.cluster.local';
const V1 = '127.0.0.31';
const V2 = '127.0.0.32';
/** `far`: endpoints only in regions other than the clients' (eu-west, ap-south). */
const FAR_HOST = 'far.demo.svc.cluster.local';
const FAR_EU = '127.0.0.33';
const FAR_AP = '127.0.0.34';
/** `flaky`: one backend that fails every other call. */
const FLAKY_HOST = 'flaky.demo.svc.cluster.local';
const FLAKY = '127.0.0.35';
const farRule = yamlDocs({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'far', namespace: 'demo' },
  spec: { host: 'far', trafficPolicy: { loadBalancer: { localityLbSetting: { failover: [{ from: 'us-east', to: 'ap-south' }] } } } },
});
const destination = (subset: string) => ({ destination: { host: HOST, subset } });

interface Policyz {
  objects: Array<{ cluster: string; ref?: { kind: string; name: string }; state: string; clients: Record<string, { omit: string[]; ignored: string[] }> }>;
}

describe('traffic policy for proxyless gRPC clients', () => {
  const ws = new Workspace();
  const backends: EchoBackend[] = [];
  let meridian: MeridianProcess;
  let client: EchoClient;
  let farClient: EchoClient;
  const goClients: GoEchoClient[] = [];
  let goEcho: Promise<Built>;

  /** grpc-go (test/interop xds-echo) with the bootstrap `meridian bootstrap` prints, sending `headers` on every call. */
  async function goClient(t: TestContext, id: string, headers: string[] = [], target = `${HOST}:7070`): Promise<GoEchoClient | undefined> {
    const built = await goEcho;
    if ('missing' in built) {
      skipOrFail(t, built.missing);
      return undefined;
    }
    const out = await MeridianProcess.run(['bootstrap', '--node-id', id, '--cluster', 'east', '--namespace', 'demo', '--locality', 'us-east/us-east-1a', '--server', meridian.xdsAddress]);
    assert.equal(out.code, 0, out.stderr);
    const file = ws.path(`${id}.bootstrap.json`);
    writeFileSync(file, out.stdout);
    const c = new GoEchoClient(built.binary, `xds:///${target}`, file, { GRPC_GO_LOG_SEVERITY_LEVEL: 'warning' }, headers.flatMap((h) => ['--header', h]));
    goClients.push(c);
    return c;
  }

  /** The `far` backend that answered, or the status code the call ended with. */
  async function farCall(): Promise<string> {
    try {
      return (await farClient.echo('hi', 5000)).backend;
    } catch (err) {
      return grpc.status[(err as grpc.ServiceError).code] ?? String(err);
    }
  }

  /** The backend that answered, or the status code the call ended with. */
  async function call(headers: Record<string, string> = {}, deadlineMs = 5000): Promise<string> {
    try {
      return (await client.echo('hi', deadlineMs, headers)).backend;
    } catch (err) {
      return grpc.status[(err as grpc.ServiceError).code] ?? String(err);
    }
  }

  before(async () => {
    // Built while the rest starts; cached between runs (.ci/run builds it ahead).
    goEcho = buildGoProgram('xds-echo');
    goEcho.catch(() => undefined);
    const first = await startEchoBackend({ host: V1, port: 0, cluster: 'east', name: 'v1' });
    const port = Number(first.address.split(':')[1]);
    backends.push(first, await startEchoBackend({ host: V2, port, cluster: 'east', name: 'v2' }));
    const farFirst = await startEchoBackend({ host: FAR_EU, port: 0, cluster: 'east', name: 'eu' });
    const farPort = Number(farFirst.address.split(':')[1]);
    backends.push(farFirst, await startEchoBackend({ host: FAR_AP, port: farPort, cluster: 'east', name: 'ap' }));
    const flaky = await startEchoBackend({ host: FLAKY, port: 0, cluster: 'east', name: 'flaky', failEvery: 2 });
    backends.push(flaky);
    mkdirSync(ws.path('east'));
    const workload = (name: string, address: string, version: string, app = 'echo', locality = 'us-east/us-east-1a') => ({
      apiVersion: 'meridian.dev/v1alpha1',
      kind: 'WorkloadEntry',
      metadata: { name, namespace: 'demo' },
      spec: { address, labels: { app, version }, locality, serviceAccount: app },
    });
    writeFileSync(
      ws.path('east', 'echo.yaml'),
      yamlDocs(
        node('east-n1', 'us-east', 'us-east-1a'),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'demo' }, spec: { selector: { app: 'echo' }, ports: [{ name: 'grpc', port: 7070, targetPort: port }] } },
        workload('echo-v1', V1, 'v1'),
        workload('echo-v2', V2, 'v2'),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'far', namespace: 'demo' }, spec: { selector: { app: 'far' }, ports: [{ name: 'grpc', port: 7071, targetPort: farPort }] } },
        workload('far-eu', FAR_EU, 'v1', 'far', 'eu-west/eu-west-1a'),
        workload('far-ap', FAR_AP, 'v1', 'far', 'ap-south/ap-south-1a'),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'flaky', namespace: 'demo' }, spec: { selector: { app: 'flaky' }, ports: [{ name: 'grpc', port: 7072, targetPort: Number(flaky.address.split(':')[1]) }] } },
        workload('flaky-0', FLAKY, 'v1', 'flaky'),
        // Retries (gRFC A44) for calls that ask for them; none for the rest.
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'flaky', namespace: 'demo' },
          spec: {
            hosts: ['flaky'],
            http: [
              { match: [{ headers: { 'x-retry': { exact: 'on' } } }], retries: { attempts: 3, retryOn: 'unavailable' }, route: [{ destination: { host: 'flaky' } }] },
              { retries: { attempts: 0 }, route: [{ destination: { host: 'flaky' } }] },
            ],
          },
        },
      ),
    );
    writeFileSync(ws.path('east', 'far-policy.yaml'), farRule);
    writeFileSync(
      ws.path('east', 'policy.yaml'),
      yamlDocs(
        versionSubsets('echo'),
        echoRoutes([
          // For Envoy only: a gRPC client would drop the query match and send every call to v2.
          { name: 'by-query', match: [{ queryParams: { debug: { exact: '1' } } }], route: [destination('v2')] },
          { name: 'canary', match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: [destination('v2')] },
          { name: 'abort', match: [{ headers: { 'x-fault': { exact: 'abort' } } }], fault: { abort: { grpcStatus: 'RESOURCE_EXHAUSTED', percentage: { value: 100 } } }, route: [destination('v1')] },
          { name: 'slow', match: [{ headers: { 'x-fault': { exact: 'delay' } } }], timeout: '300ms', fault: { delay: { fixedDelay: '3s', percentage: { value: 100 } } }, route: [destination('v1')] },
          { name: 'split', route: [{ ...destination('v1'), weight: 80 }, { ...destination('v2'), weight: 20 }] },
        ]),
      ),
    );
    const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    client = xdsEchoClient(`xds:///${HOST}:7070`, {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'grpc-policy-client', locality: { region: 'us-east', zone: 'us-east-1a' }, metadata: { CLUSTER_ID: 'east', NAMESPACE: 'demo' } },
    });
    await eventually('the canary rule in effect', async () => ((await call({ 'x-canary': 'yes' })) === 'v2' ? true : undefined), 20_000, 100);
    farClient = xdsEchoClient(`xds:///${FAR_HOST}:7071`, {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'grpc-far-client', locality: { region: 'us-east', zone: 'us-east-1a' }, metadata: { CLUSTER_ID: 'east', NAMESPACE: 'demo' } },
    });
  });

  after(async () => {
    for (const c of goClients) c.close();
    client?.close();
    farClient?.close();
    await meridian?.stop();
    await Promise.all(backends.map((b) => b.close()));
    ws.remove();
  });

  it('a header match routes to its subset', async () => {
    for (let i = 0; i < 10; i++) assert.equal(await call({ 'x-canary': 'yes' }), 'v2');
  });

  it('fault abort ends the call with the configured status; the backend never sees it', async () => {
    const before = backends.map((b) => b.calls);
    assert.equal(await call({ 'x-fault': 'abort' }), 'RESOURCE_EXHAUSTED');
    assert.deepEqual(backends.map((b) => b.calls), before);
  });

  it('the route timeout ends a call the fault delay holds longer (DEADLINE_EXCEEDED well before the delay)', async () => {
    const started = performance.now();
    assert.equal(await call({ 'x-fault': 'delay' }), 'DEADLINE_EXCEEDED');
    assert.ok(performance.now() - started < 2500, 'ended by the 300 ms route timeout, not the 3 s delay');
  });

  it('an 80/20 split holds over 500 calls, and the query-parameter rule was not sent (it would have taken them all)', async () => {
    const n = 500;
    let v2 = 0;
    for (let i = 0; i < n; i++) {
      const got = await call();
      assert.ok(got === 'v1' || got === 'v2', got);
      if (got === 'v2') v2++;
    }
    const sd = Math.sqrt(n * 0.2 * 0.8);
    assert.ok(Math.abs(v2 - n * 0.2) <= 4.5 * sd, `v2 got ${v2} of ${n}`);
    console.log(`# grpc split: v2 got ${v2} of ${n}`);
  });

  it('localityLbSetting failover: with no endpoint in the client\'s region, every call goes to the region named; without the rule both share', async () => {
    await eventually('the far service answering', async () => ((await farCall()) === 'ap' ? true : undefined), 20_000, 100);
    const answers = new Set<string>();
    for (let i = 0; i < 30; i++) answers.add(await farCall());
    assert.deepEqual([...answers], ['ap'], 'ap-south is the failover region for us-east');
    writeFileSync(ws.path('east', 'far-policy.yaml'), '');
    await eventually('both regions answering once the rule is gone', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) seen.add(await farCall());
      return seen.has('eu') && seen.has('ap') ? true : undefined;
    }, 20_000, 200);
  });

  it('localityLbSetting distribute: the client\'s calls split between the regions by the weights given (within 4.5 standard deviations)', async () => {
    writeFileSync(
      ws.path('east', 'far-policy.yaml'),
      yamlDocs({
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'far', namespace: 'demo' },
        spec: { host: 'far', trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: 'us-east/*', to: { 'eu-west/*': 75, 'ap-south/*': 25 } }] } } } },
      }),
    );
    // The rule is in effect once a run of calls leans to eu-west as it says (without it, both share evenly).
    const n = 400;
    const count = async () => {
      let eu = 0;
      for (let i = 0; i < n; i++) if ((await farCall()) === 'eu') eu++;
      return eu;
    };
    const sd = Math.sqrt(n * 0.75 * 0.25);
    const eu = await eventually('the distribute weights in effect', async () => {
      const got = await count();
      return Math.abs(got - n * 0.75) <= 4.5 * sd ? got : undefined;
    }, 30_000, 200);
    console.log(`# grpc distribute: eu-west got ${eu} of ${n}`);
    writeFileSync(ws.path('east', 'far-policy.yaml'), '');
  });

  it('retries (gRFC A44) turn a backend failing every other call into successes; without them half fail', async () => {
    const flaky = xdsEchoClient(`xds:///${FLAKY_HOST}:7072`, {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'grpc-flaky-client', locality: { region: 'us-east', zone: 'us-east-1a' }, metadata: { CLUSTER_ID: 'east', NAMESPACE: 'demo' } },
    });
    const one = async (headers: Record<string, string>) => {
      try {
        return (await flaky.echo('hi', 5000, headers)).backend;
      } catch (err) {
        return grpc.status[(err as grpc.ServiceError).code] ?? String(err);
      }
    };
    try {
      await eventually('the flaky service answering with retries', async () => ((await one({ 'x-retry': 'on' })) === 'flaky' ? true : undefined), 20_000, 100);
      const retried: string[] = [];
      for (let i = 0; i < 10; i++) retried.push(await one({ 'x-retry': 'on' }));
      assert.deepEqual(retried, Array(10).fill('flaky'));
      const plain: string[] = [];
      for (let i = 0; i < 10; i++) plain.push(await one({}));
      assert.equal(plain.filter((p) => p === 'UNAVAILABLE').length, 5, plain.join(','));
    } finally {
      flaky.close();
    }
  });

  it('reports the VirtualService partially applied for gRPC, naming the field left out', async () => {
    const p = (await meridian.getJson<Policyz>('/debug/policyz')).body;
    const vs = p.objects.find((o) => o.ref?.kind === 'VirtualService' && o.ref.name === 'echo');
    assert.equal(vs?.state, 'PartiallyApplied');
    assert.match(vs?.clients['grpc']?.omit[0] ?? '', /^spec\.http\[0\]\.match\[0\]\.queryParams: /);
  });

  it('grpc-go gets the same routes and accepts them: header match, abort, split; the query rule not sent', async (t) => {
    const canary = await goClient(t, 'go-canary', ['x-canary=yes']);
    const abort = await goClient(t, 'go-abort', ['x-fault=abort']);
    const plain = await goClient(t, 'go-plain');
    if (!canary || !abort || !plain) return;
    assert.deepEqual(new Set((await canary.call(10)).map((r) => r.backend ?? r.error)), new Set(['v2']), canary.stderr.join(''));
    const [aborted] = await abort.call(1);
    assert.match(aborted?.error ?? '', /code = ResourceExhausted/);
    const n = 200;
    const replies = await plain.call(n);
    const v2 = replies.filter((r) => r.backend === 'v2').length;
    assert.equal(replies.filter((r) => r.backend === 'v1').length + v2, n, JSON.stringify(replies.find((r) => r.error)));
    assert.ok(Math.abs(v2 - n * 0.2) <= 4.5 * Math.sqrt(n * 0.2 * 0.8), `grpc-go: v2 got ${v2} of ${n}`);
    for (const [c, id] of [[canary, 'go-canary'], [plain, 'go-plain']] as const) await assertInSyncWithoutNack(meridian, id, c);
  });

  it('grpc-go retries as the route says: every call succeeds with retries, half fail without', async (t) => {
    const retrying = await goClient(t, 'go-retry', ['x-retry=on'], `${FLAKY_HOST}:7072`);
    const once = await goClient(t, 'go-once', [], `${FLAKY_HOST}:7072`);
    if (!retrying || !once) return;
    const retried = await retrying.call(10);
    assert.deepEqual(retried.map((r) => r.backend ?? r.error), Array(10).fill('flaky'), retrying.stderr.join(''));
    const plain = await once.call(10);
    assert.equal(plain.filter((r) => /code = Unavailable/.test(r.error ?? '')).length, 5, JSON.stringify(plain));
  });
});
