/**
 * Two Meridian replicas on the same cluster: they serve byte-identical resources (versions
 * are content hashes) and equal registry digests, a proxy moving between them with its
 * versions sees no change, and a SIGTERM on one drains its proxies to the other without a
 * failed RPC. grpc-js-xds uses only the first of its `xds_servers`, so the proxies reach the
 * replicas through a small TCP balancer that prefers A and falls back to B, as a Service would
 * once A's listener has closed.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, TypeUrls, startEchoBackend, xdsEchoClient, type AdsResponse, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { SYSTEM_NAMESPACE, startKubeCluster, type KubeTestCluster } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const HOST = 'echo.demo.svc.cluster.local';
const EDS = `outbound|7070||${HOST}`;
const LISTENER = `${HOST}:7070`;

/** Forwards each TCP connection to the first upstream that accepts it. */
async function startBalancer(upstreams: () => string[]): Promise<{ address: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    sockets.add(downstream);
    downstream.on('close', () => sockets.delete(downstream));
    downstream.pause();
    const tryNext = (candidates: string[]) => {
      const [first, ...rest] = candidates;
      if (!first) return downstream.destroy();
      const [host = '', port = ''] = [first.slice(0, first.lastIndexOf(':')), first.slice(first.lastIndexOf(':') + 1)];
      const upstream = net.connect({ host, port: Number(port) });
      upstream.once('error', () => {
        upstream.destroy();
        tryNext(rest);
      });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => downstream.destroy());
        downstream.on('error', () => upstream.destroy());
        downstream.pipe(upstream).pipe(downstream);
        downstream.resume();
      });
    };
    tryNext(upstreams());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${address.port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const fingerprint = (r: AdsResponse) => ({ version: r.version_info, resources: JSON.stringify(r.resources) });

describe('HA: two replicas, identical resources, drain on SIGTERM', () => {
  const ws = new Workspace();
  const backends: EchoBackend[] = [];
  const clients: EchoClient[] = [];
  const ads: AdsTestClient[] = [];
  let cluster: KubeTestCluster;
  let a: MeridianProcess;
  let b: MeridianProcess;
  let balancer: { address: string; close(): void };
  let port = 0;

  before(async () => {
    const first = await startEchoBackend({ host: '127.0.0.71', port: 0, cluster: 'alpha', name: 'one' });
    port = Number(first.address.split(':')[1]);
    backends.push(first, await startEchoBackend({ host: '127.0.0.72', port, cluster: 'alpha', name: 'two' }));
    cluster = await startKubeCluster('alpha', 'r-alpha');
    cluster.setEcho([{ ip: '127.0.0.71' }], port);
    ws.write('alpha.kubeconfig', cluster.api.kubeconfigYaml({ token: cluster.token }));
    const config = (name: string) =>
      ws.writeConfig(
        {
          namespace: SYSTEM_NAMESPACE,
          clusters: [{ id: 'alpha', kubeconfig: './alpha.kubeconfig', primary: true }],
          ca: { dir: `./ca-${name}` },
          debounce: { quietMs: 20, maxMs: 200 },
          shutdown: { drainMs: 1000, graceMs: 2000 },
        },
        `meridian-${name}.yaml`,
      );
    [a, b] = await Promise.all([MeridianProcess.start(['serve', '--config', config('a')]), MeridianProcess.start(['serve', '--config', config('b')])]);
    balancer = await startBalancer(() => [a.xdsAddress, b.xdsAddress]);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const c of ads) c.close();
    balancer.close();
    await Promise.all([a.stop(), b.stop()]);
    await Promise.all(backends.map((x) => x.close()));
    await cluster.api.close();
    ws.remove();
  });

  it('both replicas expose the same registry digest', async () => {
    const digest = async (m: MeridianProcess) => (await m.getJson<{ digest: string }>('/debug/registryz')).body.digest;
    const [da, db] = await Promise.all([digest(a), digest(b)]);
    assert.match(da, /^[0-9a-f]{64}$/);
    assert.equal(da, db);
  });

  it('both replicas give identical resources and versions for the same proxy view', async () => {
    const node = { id: 'view-client', locality: { region: 'r-alpha' }, metadata: { CLUSTER_ID: 'alpha', NAMESPACE: 'demo' } };
    const views = await Promise.all(
      [a, b].map(async (m) => {
        const c = AdsTestClient.connect(m.xdsAddress, node);
        ads.push(c);
        const lds = await c.requestAck(TypeUrls.Listener, [LISTENER]);
        // The API listener's route configuration is named after the listener.
        const out = [fingerprint(lds), fingerprint(await c.requestAck(TypeUrls.Route, [LISTENER]))];
        out.push(fingerprint(await c.requestAck(TypeUrls.Cluster, [])));
        out.push(fingerprint(await c.requestAck(TypeUrls.Endpoint, [EDS])));
        return out;
      }),
    );
    assert.ok(views[0] && views[0].length === 4 && views[0].every((v) => v.version !== '' && v.resources !== '[]'), 'LDS, RDS, CDS and EDS answered');
    assert.deepEqual(views[0], views[1]);
  });

  it('a proxy that moves to the other replica with its versions gets the same versions back', async () => {
    const node = { id: 'mover', metadata: { CLUSTER_ID: 'alpha' } };
    const onA = AdsTestClient.connect(a.xdsAddress, node);
    ads.push(onA);
    const cds = await onA.requestAck(TypeUrls.Cluster, []);
    const eds = await onA.requestAck(TypeUrls.Endpoint, [EDS]);
    onA.close();
    const onB = AdsTestClient.connect(b.xdsAddress, node);
    ads.push(onB);
    // As gRPC does on a new stream: the last accepted version, no nonce.
    onB.send({ typeUrl: TypeUrls.Cluster, version: cds.version_info });
    const cdsB = await onB.next();
    assert.deepEqual(fingerprint(cdsB), fingerprint(cds), 'same CDS version: not a change');
    onB.ack(cdsB, []);
    onB.send({ typeUrl: TypeUrls.Endpoint, names: [EDS], version: eds.version_info });
    assert.deepEqual(fingerprint(await onB.next()), fingerprint(eds), 'same EDS version: not a change');
  });

  it('SIGTERM on A: proxies reconnect to B, no RPC fails, A exits 0', async () => {
    const client = xdsEchoClient(`xds:///${LISTENER}`, {
      xds_servers: [{ server_uri: balancer.address, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id: 'ha-client', locality: { region: 'r-alpha' }, metadata: { CLUSTER_ID: 'alpha' } },
    });
    clients.push(client);
    assert.equal((await client.echo('hi')).backend, 'one');
    const onA = await a.getJson<{ proxies: Array<{ node: string }> }>('/debug/syncz?proxy=ha-client');
    assert.equal(onA.body.proxies.length, 1, 'the client starts on A');

    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          seen.add((await client.echo('x')).backend);
          ok++;
        } catch (err) {
          failures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const stopAt = performance.now();
    const code = await a.stop();
    const stopMs = Math.round(performance.now() - stopAt);
    assert.equal(code, 0, 'A exits 0');
    assert.ok(a.logs.some((l) => l.msg === 'streams drained' && Number(l['drained']) >= 1), 'A drained its streams');

    // A change after A is gone reaches the client only through B.
    cluster.setEcho([{ ip: '127.0.0.71' }, { ip: '127.0.0.72' }], port);
    await eventually('the client follows B', () => (seen.has('two') ? true : undefined), 20_000);
    const reconnectMs = Math.round(performance.now() - stopAt);
    running = false;
    await loop;
    const onB = await b.getJson<{ proxies: Array<{ node: string }> }>('/debug/syncz?proxy=ha-client');
    assert.equal(onB.body.proxies.length, 1, 'the client is on B');
    assert.deepEqual(failures, [], 'no RPC failed');
    console.log(JSON.stringify({ measure: 'ha-drain', rpcs: ok, failed: failures.length, stopMs, changeThroughBMs: reconnectMs }));
  });
});
