/**
 * `pnpm bench envoy` (root, `envoy` on PATH): the Envoy path's convergence. An endpoint of a
 * service changes (manifest: ready ↔ not ready) and the time until every real Envoy sidecar's
 * admin stats show it (`membership_healthy` of the service's cluster, polled every 5 ms from
 * inside each pod) is measured, p50 and p99 over the changes. Baseline in the same run: the
 * same change reaching as many simulated ADS clients (what Meridian's side costs: manifest
 * settle, debounce, push), so the ratio is what real Envoys add (receive, apply, warm).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdsTestClient, RealPeer, realPeersMissing, TypeUrls } from '@meridian/testkit';
import { serviceManifests } from '../envoy/manifests.ts';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { percentile, print } from './support/report.ts';

const ENVOYS = Number(process.env['BENCH_ENVOYS'] ?? 4);
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 20);
const WARMUP = 2;
const PORT = { name: 'http', port: 8080, target: 18080 };
const CLUSTER = 'outbound|8080||echo.demo.svc.cluster.local';
const HEALTHY_STAT = `cluster.${CLUSTER}.membership_healthy`;

const wallClock = () => performance.timeOrigin + performance.now();

function writeEcho(mesh: EnvoyMesh, secondReady: boolean): void {
  writeFileSync(
    mesh.ws.path('east', 'echo.yaml'),
    serviceManifests({
      name: 'echo', namespace: 'demo', vip: '10.96.0.20', ports: [PORT], cluster: 'east',
      // Addresses no pod has: the sidecars only learn of them, never connect.
      pods: [
        { name: 'echo-0', address: '10.97.0.10', serviceAccount: 'echo' },
        { name: 'echo-1', address: '10.97.0.11', serviceAccount: 'echo', ready: secondReady },
      ],
    }),
  );
}

async function main(): Promise<void> {
  const missing = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);
  if (missing) throw new Error(`pnpm bench envoy ${missing}`);
  const mesh = new EnvoyMesh();
  const clients: AdsTestClient[] = [];
  try {
    const pods = Array.from({ length: ENVOYS }, (_, i) => mesh.bed.addPod(`sleep-${i}`));
    mkdirSync(mesh.ws.path('east'));
    writeFileSync(mesh.ws.path('east', 'nodes.yaml'), yamlDocs(node('east-node', 'us-east', 'us-east-1a')));
    writeEcho(mesh, true);
    const meridian = await mesh.startMeridian({ clusters: [{ id: 'east', manifests: './east' }] });
    const sidecars: Workload[] = await Promise.all(
      pods.map((pod) => mesh.sidecar(pod, { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} })),
    );
    await Promise.all(sidecars.map((w) => w.app.statReaches(HEALTHY_STAT, 2, { timeoutMs: 30_000 })));
    for (let i = 0; i < ENVOYS; i++) {
      clients.push(AdsTestClient.connect(meridian.xdsAddress, { id: `bench-${i}`, metadata: { CLUSTER_ID: 'east' } }));
    }
    await Promise.all(clients.map((c) => c.requestAck(TypeUrls.Endpoint, [CLUSTER])));

    const envoyMs: number[] = [];
    const adsMs: number[] = [];
    for (let change = 0; change < WARMUP + CHANGES; change++) {
      const secondReady = change % 2 === 1;
      const shown = sidecars.map((w) => w.app.statReaches(HEALTHY_STAT, secondReady ? 2 : 1, { timeoutMs: 10_000 }));
      const received = clients.map(async (c) => {
        const r = await c.next(10_000);
        const at = wallClock();
        c.ack(r, [CLUSTER]);
        return at;
      });
      const t0 = wallClock();
      writeEcho(mesh, secondReady);
      // Every Envoy (every client) has it: the last one counts.
      const envoyAt = Math.max(...(await Promise.all(shown)));
      const adsAt = Math.max(...(await Promise.all(received)));
      if (change < WARMUP) continue;
      envoyMs.push(envoyAt - t0);
      adsMs.push(adsAt - t0);
    }
    print(`envoy.eds_convergence_p50_${ENVOYS}_envoys`, percentile(envoyMs, 50), 'ms', percentile(adsMs, 50));
    print(`envoy.eds_convergence_p99_${ENVOYS}_envoys`, percentile(envoyMs, 99), 'ms', percentile(adsMs, 99));
    await mesh.assertConfigsAccepted();
  } finally {
    for (const c of clients) c.close();
    await mesh.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String(err)}\n`);
    process.exit(1);
  },
);
