/**
 * `pnpm demo --envoy`: the failover story of `pnpm demo`, through real Envoy sidecars with
 * mTLS. Pods are network namespaces on a bridge of their own (testkit's test bed): a client in
 * east, an echo pod in east and one in west, each with Istio's capture and an Envoy configured
 * by Meridian. Every request says which pod and cluster answered and which SPIFFE IDs its
 * server-side sidecar saw. Needs root and `envoy` on PATH; everything it made is removed on exit.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { RealPeer, realPeersNeeded, type Pod, type Received } from '@meridian/testkit';
import { ECHO_APP_PORTS, ECHO_PORTS, serviceManifests } from '../test/envoy/manifests.ts';
import { EnvoyMesh, xfcc, type Workload } from '../test/support/envoy-mesh.ts';
import { node, yamlDocs } from '../test/support/manifests.ts';

const ECHO_VIP = '10.96.0.20';
const ECHO_HOST = 'echo.demo.svc.cluster.local';
const HTTP = ECHO_PORTS.http;
const CLUSTER_OF: Record<string, string> = { 'echo-east-0': 'east', 'echo-west-0': 'west' };

const say = (text: string) => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What this machine lacks for the Envoy demo (`needs …`), or undefined. */
export function envoyDemoMissing(): string | undefined {
  return realPeersNeeded([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);
}

/** Runs the demo; `rounds` requests per phase. */
export async function envoyDemo(options: { rounds: number }): Promise<void> {
  const mesh = new EnvoyMesh();
  try {
    const pods: Record<string, Pod> = {};
    for (const name of ['sleep-east-0', 'echo-east-0', 'echo-west-0']) pods[name] = mesh.bed.addPod(name);
    const pod = (name: string): Pod => {
      const p = pods[name];
      if (!p) throw new Error(`no pod ${name}`);
      return p;
    };
    const writeEcho = (cluster: 'east' | 'west', ready: boolean) =>
      writeFileSync(
        mesh.ws.path(cluster, 'echo.yaml'),
        serviceManifests({
          name: 'echo', namespace: 'demo', vip: ECHO_VIP, ports: [HTTP], cluster,
          pods: [{ name: `echo-${cluster}-0`, address: pod(`echo-${cluster}-0`).address, serviceAccount: 'echo', ready }],
        }),
      );
    for (const [cluster, region] of [['east', 'us-east'], ['west', 'us-west']] as const) {
      mkdirSync(mesh.ws.path(cluster));
      writeFileSync(mesh.ws.path(cluster, 'nodes.yaml'), yamlDocs(node(`${cluster}-node`, region, `${region}-1a`)));
      writeEcho(cluster, true);
    }
    say('Meridian demo through real Envoy sidecars — two clusters (east, west), strict mTLS');
    say(`  pods are network namespaces on ${mesh.bed.network().bridge} (${mesh.bed.network().subnet}.0/24); scratch: ${mesh.ws.dir}\n`);
    const meridian = await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
    say(`1. Meridian is up: xDS with TLS on ${meridian.xdsTlsAddress}, HTTP on http://${meridian.httpAddress}`);
    const spec = { namespace: 'demo', serviceAccount: 'echo', ports: { http1: ECHO_APP_PORTS.http1 } };
    const [client] = await Promise.all([
      mesh.sidecar(pod('sleep-east-0'), { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} }),
      mesh.sidecar(pod('echo-east-0'), { ...spec, cluster: 'east', locality: 'us-east/us-east-1a' }),
      mesh.sidecar(pod('echo-west-0'), { ...spec, cluster: 'west', locality: 'us-west/us-west-1a' }),
    ]);
    for (const w of mesh.workloads) say(`   ${w.pod.name.padEnd(13)} ${w.pod.address.padEnd(14)} Envoy pid ${w.envoy.process.pid}, SVID ${w.spiffeId}`);
    say(`2. the app in sleep-east-0 (us-east/us-east-1a) sends HTTP to the echo Service's ClusterIP ${ECHO_VIP}:${HTTP.port};`);
    say('   iptables hands it to its sidecar, which picks an endpoint and speaks mTLS to the echo pod\'s sidecar\n');

    await calls(client, 'local     ', options.rounds, 'echo-east-0');
    say('\n3. marking the east echo endpoint not ready (ready: false in east/echo.yaml)');
    writeEcho('east', false);
    await calls(client, 'failover  ', options.rounds, 'echo-west-0');
    say('\n4. east is ready again');
    writeEcho('east', true);
    await calls(client, 'recovered ', options.rounds, 'echo-east-0');

    const problems = (await Promise.all(mesh.workloads.map(async (w) => (await w.envoy.configProblems()).map((p) => `${w.pod.name}: ${p}`)))).flat();
    say(`\n5. every Envoy's admin: ${problems.length === 0 ? 'no rejected update, nothing warming' : problems.join('; ')}`);
    say('\nDone. Everything the demo made (namespaces, links, rules, processes) is removed now.');
  } finally {
    await mesh.close();
  }
}

/**
 * `rounds` requests that each say who answered. The first waits (up to 20 s) for `expect` to
 * answer, so each phase starts once Meridian's change reached the client's sidecar.
 */
async function calls(client: Workload, label: string, rounds: number, expect: string): Promise<void> {
  const start = Date.now();
  for (;;) {
    const answer = await request(client).catch(() => undefined);
    if (answer?.pod === expect) break;
    if (Date.now() - start > 20_000) {
      say(`   (${expect} did not answer within 20 s)`);
      break;
    }
    await sleep(50);
  }
  if (Date.now() - start > 100) say(`   (the change reached the client's sidecar: ${expect} answers ${Date.now() - start} ms after it)`);
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    try {
      const got = await request(client);
      const ms = (performance.now() - started).toFixed(1);
      const cert = xfcc(got);
      say(`   ${label} answered by ${got.pod} (cluster ${CLUSTER_OF[got.pod] ?? '?'}) ${ms} ms — its sidecar saw client ${cert.get('URI') ?? '(none)'}, itself ${cert.get('By') ?? '(none)'}`);
    } catch (err) {
      say(`   ${label} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    await sleep(300);
  }
}

async function request(client: Workload): Promise<Received> {
  const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 3000 });
  if (a.status !== 200) throw new Error(`HTTP ${a.status} ${a.body.slice(0, 120)}`);
  return JSON.parse(a.body) as Received;
}
