/**
 * End to end: the real `meridian serve` process on two clusters described by manifest
 * files, real gRPC backends in each "cluster", and proxyless gRPC clients making RPCs
 * through the configuration Meridian serves: @grpc/grpc-js-xds in process, and grpc-go's
 * xDS client (test/interop) as a second, stricter implementation.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startEchoBackend, xdsEchoClient, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { GoEchoClient, assertInSyncWithoutNack, buildGoProgram, skipOrFail, type Built } from '../support/go-interop.ts';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const EAST = { cluster: 'east', region: 'us-east', zone: 'us-east-1a', echo: '127.0.0.11', api: '127.0.0.12' };
const WEST = { cluster: 'west', region: 'us-west', zone: 'us-west-1a', echo: '127.0.0.21', api: '127.0.0.22' };

describe('two clusters, proxyless gRPC clients', () => {
  const ws = new Workspace();
  const backends: EchoBackend[] = [];
  const clients: EchoClient[] = [];
  const goClients: GoEchoClient[] = [];
  let meridian: MeridianProcess;
  let port = 0;
  let goEcho: Promise<Built>;

  function writeEcho(c: typeof EAST, ready: boolean): void {
    writeFileSync(
      ws.path(c.cluster, 'echo.yaml'),
      yamlDocs(
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        endpointSlice(`echo-${c.cluster}`, 'demo', 'echo', { name: 'grpc', port }, [{ address: c.echo, ready, node: `${c.cluster}-n1` }]),
      ),
    );
  }

  function writeCluster(c: typeof EAST): void {
    mkdirSync(ws.path(c.cluster));
    writeFileSync(ws.path(c.cluster, 'nodes.yaml'), yamlDocs(node(`${c.cluster}-n1`, c.region, c.zone)));
    writeEcho(c, true);
    writeFileSync(
      ws.path(c.cluster, 'kubernetes.yaml'),
      yamlDocs(
        service('kubernetes', 'default', [{ name: 'grpc', port: 443 }]),
        endpointSlice('kubernetes', 'default', 'kubernetes', { name: 'grpc', port }, [{ address: c.api }]),
      ),
    );
  }

  const client = (target: string, id: string, c: typeof EAST | undefined) => {
    const bootstrap = {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: {
        id,
        locality: c ? { region: c.region, zone: c.zone } : {},
        metadata: c ? { CLUSTER_ID: c.cluster } : {},
      },
    };
    const x = xdsEchoClient(`xds:///${target}`, bootstrap);
    clients.push(x);
    return x;
  };

  /** Which clusters answered `n` calls. */
  async function answers(c: EchoClient, n = 12): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const reply = await c.echo(`call ${i}`);
      counts[reply.backend] = (counts[reply.backend] ?? 0) + 1;
    }
    return counts;
  }

  before(async () => {
    // Built while the rest starts; cached between runs (.ci/run builds it ahead).
    goEcho = buildGoProgram('xds-echo');
    goEcho.catch(() => undefined);
    const first = await startEchoBackend({ host: EAST.echo, port: 0, cluster: 'east', name: 'east/echo' });
    port = Number(first.address.split(':')[1]);
    backends.push(
      first,
      await startEchoBackend({ host: WEST.echo, port, cluster: 'west', name: 'west/echo' }),
      await startEchoBackend({ host: EAST.api, port, cluster: 'east', name: 'east/api' }),
      await startEchoBackend({ host: WEST.api, port, cluster: 'west', name: 'west/api' }),
      await startEchoBackend({ host: '127.0.0.23', port, cluster: 'west', name: 'west/hello' }),
      await startEchoBackend({ host: '127.0.0.61', port, cluster: 'vm', name: 'vm/billing' }),
    );
    writeCluster(EAST);
    writeCluster(WEST);
    writeFileSync(
      ws.path('west', 'hello.yaml'),
      yamlDocs(
        service('hello', 'demo', [{ name: 'grpc', port: 7071 }]),
        endpointSlice('hello-west', 'demo', 'hello', { name: 'grpc', port }, [{ address: '127.0.0.23', node: 'west-n1' }]),
      ),
    );
    // A workload outside Kubernetes joins the billing Service by its labels.
    writeFileSync(
      ws.path('east', 'billing.yaml'),
      yamlDocs(
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'billing', namespace: 'demo' }, spec: { selector: { app: 'billing' }, ports: [{ name: 'grpc', port: 7072, targetPort: port }] } },
        {
          apiVersion: 'meridian.dev/v1alpha1',
          kind: 'WorkloadEntry',
          metadata: { name: 'billing-vm-1', namespace: 'demo' },
          spec: { address: '127.0.0.61', labels: { app: 'billing' }, locality: 'us-east/us-east-1a', serviceAccount: 'billing' },
        },
      ),
    );
    const config = ws.writeConfig({
      clusters: [
        { id: 'east', network: 'net-east', manifests: './east' },
        { id: 'west', network: 'net-west', manifests: './west' },
      ],
      clusterLocalHosts: ['kubernetes.default.svc.cluster.local'],
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const c of goClients) c.close();
    const code = await meridian.stop();
    await Promise.all(backends.map((b) => b.close()));
    ws.remove();
    assert.equal(code, 0, 'meridian exits 0 on SIGTERM');
  });

  it('prefers the client locality: each cluster calls its own backend', async () => {
    assert.deepEqual(await answers(client('echo.demo.svc.cluster.local:7070', 'east-local', EAST)), { 'east/echo': 12 });
    assert.deepEqual(await answers(client('echo.demo.svc.cluster.local:7070', 'west-local', WEST)), { 'west/echo': 12 });
  });

  it('works with the bootstrap `meridian bootstrap` prints', async () => {
    const out = await MeridianProcess.run([
      'bootstrap',
      '--node-id',
      'from-cli',
      '--cluster',
      'west',
      '--locality',
      `${WEST.region}/${WEST.zone}`,
      '--server',
      meridian.xdsAddress,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const bootstrap = JSON.parse(out.stdout) as { xds_servers: Array<{ server_features: string[] }> };
    assert.ok(bootstrap.xds_servers[0]?.server_features.includes('ignore_resource_deletion'));
    const c = xdsEchoClient('xds:///echo.demo.svc.cluster.local:7070', bootstrap);
    clients.push(c);
    assert.deepEqual(await answers(c, 4), { 'west/echo': 4 });
  });

  it('round-robins across clusters when localities are equal', async () => {
    const counts = await answers(client('echo.demo.svc.cluster.local:7070', 'nowhere', undefined), 20);
    assert.deepEqual(Object.keys(counts).sort(), ['east/echo', 'west/echo']);
  });

  it('reaches a service that exists in one cluster only, from the other', async () => {
    assert.deepEqual(await answers(client('hello.demo.svc.cluster.local:7071', 'east-hello', EAST), 4), { 'west/hello': 4 });
  });

  it('routes to a workload outside Kubernetes (WorkloadEntry) selected by a Service', async () => {
    assert.deepEqual(await answers(client('billing.demo.svc.cluster.local:7072', 'west-billing', WEST), 3), { 'vm/billing': 3 });
  });

  it('keeps cluster-local services within the client cluster', async () => {
    assert.deepEqual(await answers(client('kubernetes.default.svc.cluster.local:443', 'east-api', EAST), 6), { 'east/api': 6 });
    assert.deepEqual(await answers(client('kubernetes.default.svc.cluster.local:443', 'west-api', WEST), 6), { 'west/api': 6 });
  });

  it('fails over to the other cluster when local endpoints become not ready, and recovers', async () => {
    const east = client('echo.demo.svc.cluster.local:7070', 'east-failover', EAST);
    assert.deepEqual(await answers(east, 4), { 'east/echo': 4 });
    writeEcho(EAST, false);
    await eventually('traffic moved to west', async () => {
      const counts = await answers(east, 4);
      return counts['west/echo'] === 4 ? counts : undefined;
    });
    writeEcho(EAST, true);
    await eventually('traffic back in east', async () => {
      const counts = await answers(east, 4);
      return counts['east/echo'] === 4 ? counts : undefined;
    });
  });

  /** grpc-go with the bootstrap `meridian bootstrap` prints for `c`; undefined when skipped. */
  async function goClient(t: TestContext, target: string, id: string, c: typeof EAST): Promise<GoEchoClient | undefined> {
    const built = await goEcho;
    if ('missing' in built) {
      skipOrFail(t, built.missing);
      return undefined;
    }
    const out = await MeridianProcess.run(['bootstrap', '--node-id', id, '--cluster', c.cluster, '--locality', `${c.region}/${c.zone}`, '--server', meridian.xdsAddress]);
    assert.equal(out.code, 0, out.stderr);
    const file = ws.path(`${id}.bootstrap.json`);
    writeFileSync(file, out.stdout);
    // Warnings include every NACK grpc-go sends, with its reason: shown if a test fails.
    const x = new GoEchoClient(built.binary, `xds:///${target}`, file, { GRPC_GO_LOG_SEVERITY_LEVEL: 'warning' });
    goClients.push(x);
    return x;
  }

  async function goAnswers(c: GoEchoClient, n: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const r of await c.call(n)) counts[r.backend ?? `error: ${r.error}`] = (counts[r.backend ?? `error: ${r.error}`] ?? 0) + 1;
    return counts;
  }

  it('grpc-go: prefers the client locality, with the bootstrap `meridian bootstrap` prints', async (t) => {
    const east = await goClient(t, 'echo.demo.svc.cluster.local:7070', 'go-east-local', EAST);
    const west = await goClient(t, 'echo.demo.svc.cluster.local:7070', 'go-west-local', WEST);
    if (!east || !west) return;
    assert.deepEqual(await goAnswers(east, 6), { 'east/echo': 6 }, east.stderr.join(''));
    assert.deepEqual(await goAnswers(west, 6), { 'west/echo': 6 }, west.stderr.join(''));
    assert.deepEqual(await assertInSyncWithoutNack(meridian, 'go-east-local', east), ['CDS', 'EDS', 'LDS', 'RDS']);
  });

  it('grpc-go: fails over to the other cluster when local endpoints become not ready, and recovers', async (t) => {
    const east = await goClient(t, 'echo.demo.svc.cluster.local:7070', 'go-east-failover', EAST);
    if (!east) return;
    assert.deepEqual(await goAnswers(east, 4), { 'east/echo': 4 }, east.stderr.join(''));
    writeEcho(EAST, false);
    await eventually('grpc-go traffic moved to west', async () => {
      const counts = await goAnswers(east, 4);
      return counts['west/echo'] === 4 ? counts : undefined;
    });
    writeEcho(EAST, true);
    await eventually('grpc-go traffic back in east', async () => {
      const counts = await goAnswers(east, 4);
      return counts['east/echo'] === 4 ? counts : undefined;
    });
    assert.deepEqual(await assertInSyncWithoutNack(meridian, 'go-east-failover', east), ['CDS', 'EDS', 'LDS', 'RDS']);
  });

  it('keeps serving the last good state of a manifest that becomes invalid', async () => {
    const east = client('echo.demo.svc.cluster.local:7070', 'east-invalid', EAST);
    assert.deepEqual(await answers(east, 3), { 'east/echo': 3 });
    writeFileSync(ws.path('east', 'echo.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: [not, a, mapping\n');
    const status = await eventually('the error is reported', async () => {
      const { body } = await meridian.getJson<{ clusters: Array<{ id: string; source: { files: Array<{ file: string; error?: { document: number; reason: string } }> } }> }>('/debug/clusterz');
      const file = body.clusters.find((c) => c.id === 'east')?.source.files.find((f) => f.file.endsWith('echo.yaml'));
      return file?.error ? file : undefined;
    });
    assert.equal(status.error?.document, 1);
    // The log line comes over Meridian's stdout pipe, which may arrive after the HTTP answer above.
    await meridian.waitForLog((l) => l.msg.startsWith('invalid manifest') && String(l['file']).endsWith('echo.yaml'), 5000);
    assert.deepEqual(await answers(east, 3), { 'east/echo': 3 }, 'the last good endpoints still serve');
    const { body } = await meridian.getJson<{ services: Array<{ hostname: string; endpoints: Array<{ cluster: string }> }> }>('/debug/registryz');
    const echo = body.services.find((s) => s.hostname === 'echo.demo.svc.cluster.local');
    assert.deepEqual(echo?.endpoints.map((e) => e.cluster), ['east', 'west']);
    writeEcho(EAST, true);
  });
});
