/**
 * `pnpm bench xds`: push performance on a generated mesh (1k services, 10k endpoints),
 * with Meridian, the simulated proxies and the Kubernetes API each in its own process or
 * server. Every figure has a baseline measured in the same run:
 *  - xds.full_push_1000: a full CDS push (~100 KB each) to 1000 proxies, from Meridian's
 *    push to the last proxy receiving it; baseline: a raw grpc-js server writing the same
 *    bytes to the same 1000 streams.
 *  - xds.build_cds_eds_1k: building and serializing CDS + EDS for 1k services / 10k
 *    endpoints (cold cache); baseline: protobufjs encoding the same resource objects.
 *  - xds.assemble_response_1k: a response from 1k cached resources; baseline: Buffer.concat.
 *  - xds.memory_per_proxy (heap) and xds.memory_per_proxy_rss: Meridian's growth per
 *    connected proxy, each read after two forced GCs; baseline: the raw server's growth per
 *    stream, read the same way in the raw server's own process. Heap is V8's heap plus Buffers (`heapUsed + external`).
 *  - xds.full_push_vs_go_control_plane, xds.memory_per_proxy*_vs_go_control_plane and the
 *    xds.go_control_plane.* lines: envoyproxy/go-control-plane (test/interop, pinned) serving
 *    the snapshot Meridian generated (captured from Meridian's own responses) to a fresh swarm
 *    of the same proxies; each side is the other's baseline. Go heap is `HeapAlloc +
 *    StackInuse` (goroutine stacks hold much of a Go stream's state). Skipped without `go`.
 *  - xds.eds_convergence_p99_1000: endpoint change in the API → EDS received by all 1000
 *    proxies (each ACKs at once), p99 over 5 rounds after 2 warm-up rounds; baseline: the
 *    default debounce quiet period plus the API's own watch latency.
 *  - xds.delta_eds_convergence_*: the same with 1000 delta ADS streams instead.
 *  - telemetry.*: the LDS size per sidecar and full-push LDS build with telemetry on against
 *    off, as `pnpm bench telemetry` prints them (support/telemetry-cost.ts).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, makeInformer, type V1Service } from '@kubernetes/client-node';
import { EMPTY_LOCALITY, ProxyType } from '@meridian/model';
import { KubeApiServer } from '@meridian/testkit';
import { MeshResources, TypeUrl, encodeDiscoveryResponse, protoType } from '@meridian/xds';
import { buildGoProgram } from '../support/go-interop.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { CDS, Child, EDS, k8s, seedMesh, service, slice, Swarm, WATCHED } from './support/generated-mesh.ts';
import { inProcessMesh } from './support/in-process-mesh.ts';
import { GoControlPlane } from './support/go-control-plane.ts';
import { GC_PROBE_NODE_ARGS, meridianMemory, type Memory } from './support/meridian-memory.ts';
import { percentile, print } from './support/report.ts';
import { measureTelemetryCost } from './support/telemetry-cost.ts';

const PROXIES = Number(process.env['BENCH_PROXIES'] ?? 1000);
const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 1000);
const CONVERGENCE_WARMUP_ROUNDS = 2;
const WARMUP_RUNS = 15;

/** Build cost against encode cost, in process (no network). */
function microBenchmarks(): void {
  const discovery = inProcessMesh(SERVICES);
  const services = discovery.services();
  const proxy = { id: 'p', type: ProxyType.ProxylessGrpc, cluster: 'c1', network: 'c1', namespace: 'demo', locality: EMPTY_LOCALITY, ipAddresses: [], labels: {} };
  const names = new Set(services.map((s) => `outbound|8080||${s.hostname}`));
  const build = () => {
    const resources = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [] });
    const t0 = performance.now();
    const cds = resources.generate(TypeUrl.Cluster, proxy, undefined);
    const eds = resources.generate(TypeUrl.Endpoint, proxy, names);
    return { ms: performance.now() - t0, all: [...cds, ...eds] };
  };
  // Both sides get the same warm-up: V8 needs about 15 runs to settle on optimized code.
  for (let i = 0; i < WARMUP_RUNS; i++) build();
  const runs = Array.from({ length: 15 }, build);
  const built = runs[0]?.all ?? [];
  // Baseline: protobufjs encoding of the very same messages (decoded back from our bytes).
  const anyType = protoType('google.protobuf.Any');
  const objects = built.map((r) => {
    const any = anyType.decode(r.any) as unknown as { type_url: string; value: Uint8Array };
    const type = protoType(any.type_url.slice(any.type_url.lastIndexOf('/') + 1));
    return { url: any.type_url, type, object: type.toObject(type.decode(any.value), { enums: String, longs: String }) };
  });
  const encode = () => {
    const t0 = performance.now();
    for (const o of objects) o.type.encode(o.type.fromObject(o.object)).finish();
    return performance.now() - t0;
  };
  for (let i = 0; i < WARMUP_RUNS; i++) encode();
  print('xds.build_cds_eds_1k', percentile(runs.map((r) => r.ms), 50), 'ms', percentile(Array.from({ length: 15 }, encode), 50));

  const anys = built.slice(0, SERVICES).map((r) => r.any);
  const assemble = () => {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) encodeDiscoveryResponse({ versionInfo: 'v1234567890abcdef', typeUrl: CDS, nonce: `n-${i}`, resources: anys });
    return (performance.now() - t0) / 50;
  };
  const concat = () => {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) Buffer.concat(anys);
    return (performance.now() - t0) / 50;
  };
  assemble();
  concat();
  print('xds.assemble_response_1k', percentile(Array.from({ length: 9 }, assemble), 50), 'ms', percentile(Array.from({ length: 9 }, concat), 50));
  measureTelemetryCost(PROXIES, SERVICES);
}

/**
 * The raw baseline: a grpc-js server in its own process (support/raw-fanout.ts) that writes
 * the same bytes to every open stream (greeting each with them, as Meridian greets a proxy
 * with its CDS); its memory is read there after forced GCs.
 */
async function rawFanout(swarm: Swarm, payloadBytes: number): Promise<{ ms: number; perStream: Memory }> {
  const raw = new Child('raw-fanout.ts', ['--expose-gc'], [String(payloadBytes)]);
  const { listening } = await raw.receive<{ listening: number }>('listening');
  const memory = async () => {
    raw.send({ cmd: 'memory' });
    return (await raw.receive<{ memory: Memory }>('memory')).memory;
  };
  const before = await memory();
  swarm.send({ cmd: 'raw', address: `127.0.0.1:${listening}`, count: PROXIES });
  await swarm.receive('ready');
  const perStream = perProxy(before, await memory());
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    swarm.send({ cmd: 'arm', typeUrl: 'raw' });
    await swarm.receive('armed');
    raw.send({ cmd: 'fanout', bytes: payloadBytes });
    const { wrote } = await raw.receive<{ wrote: number }>('wrote');
    const { times } = await swarm.receive<{ times: number[] }>('times');
    samples.push(Math.max(...times) - wrote);
  }
  raw.send({ cmd: 'close' });
  return { ms: percentile(samples, 50), perStream };
}

const perProxy = (before: Memory, after: Memory): Memory => ({ heap: (after.heap - before.heap) / PROXIES, rss: (after.rss - before.rss) / PROXIES });

/**
 * go-control-plane serving the CDS and EDS Meridian sent (`snapshotDir`) to a fresh swarm of
 * the same proxies: full push (a version with one cluster changed) and memory per proxy.
 */
async function goControlPlane(binary: string, snapshotDir: string): Promise<{ fullPushMs: number; perProxy: Memory }> {
  const server = await GoControlPlane.start(binary, snapshotDir);
  const swarm = new Swarm();
  await swarm.receive('started');
  const goMemory = async (): Promise<Memory> => {
    const m = await server.memory();
    return { heap: m.heapAlloc + m.stackInuse, rss: m.rss };
  };
  const before = await goMemory();
  swarm.send({ cmd: 'ads', address: server.address, count: PROXIES, subscriptions: [{ typeUrl: CDS, names: [] }, { typeUrl: EDS, names: [WATCHED] }] });
  await swarm.receive('ready');
  await new Promise((r) => setTimeout(r, 2000));
  const memory = perProxy(before, await goMemory());
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    swarm.send({ cmd: 'arm', typeUrl: CDS });
    await swarm.receive('armed');
    const pushAt = await server.push();
    const { times } = await swarm.receive<{ times: number[] }>('times');
    samples.push(Math.max(...times) - pushAt);
  }
  await swarm.close();
  server.close();
  return { fullPushMs: percentile(samples, 50), perProxy: memory };
}

async function main(): Promise<void> {
  microBenchmarks();

  const api = await KubeApiServer.start({ historySize: 100_000 });
  seedMesh(api, SERVICES);
  const ws = new Workspace('meridian-bench-');
  ws.write('c1.kubeconfig', api.kubeconfigYaml());
  const config = ws.writeConfig({ clusters: [{ id: 'c1', kubeconfig: './c1.kubeconfig' }], log: { level: 'warn' } });
  // Built while the mesh loads; cached between runs (.ci/run builds it ahead).
  const goPeer = buildGoProgram('gcp-server');
  goPeer.catch(() => undefined);
  const meridian = await MeridianProcess.start(['serve', '--config', config], { MERIDIAN_LOG_LEVEL: 'info' }, { nodeArgs: GC_PROBE_NODE_ARGS });
  const swarm = new Swarm();
  await swarm.receive('started');

  const memoryBefore = await meridianMemory(meridian);
  swarm.send({ cmd: 'ads', address: meridian.xdsAddress, count: PROXIES, subscriptions: [{ typeUrl: CDS, names: [] }, { typeUrl: EDS, names: [WATCHED] }] });
  await swarm.receive('ready');
  await new Promise((r) => setTimeout(r, 2000));
  const memoryPerProxy = perProxy(memoryBefore, await meridianMemory(meridian));

  // The snapshot go-control-plane serves: Meridian's own CDS and EDS (every service) for a
  // proxy of the swarm's kind, as sent.
  const snapshotDir = ws.path('snapshot');
  mkdirSync(snapshotDir);
  const allEds = Array.from({ length: SERVICES }, (_, i) => `outbound|8080||svc-${i}.demo.svc.cluster.local`);
  swarm.send({ cmd: 'capture', address: meridian.xdsAddress, subscriptions: [{ typeUrl: CDS, names: [] }, { typeUrl: EDS, names: allEds }], files: { [CDS]: path.join(snapshotDir, 'cds.pb'), [EDS]: path.join(snapshotDir, 'eds.pb') } });
  await swarm.receive('captured');

  // Full push: a port of one service changes → every proxy's CDS (all clusters) changes.
  const fullPush: number[] = [];
  let pushBytes = 0;
  for (let i = 0; i < 3; i++) {
    swarm.send({ cmd: 'arm', typeUrl: CDS });
    await swarm.receive('armed');
    const seen = meridian.logs.length;
    api.upsert(service(SERVICES - 1, i % 2 === 0 ? 8081 : 8080));
    const { times, bytes } = await swarm.receive<{ times: number[]; bytes: number }>('times');
    const pushLog = await meridian.waitForLog((l) => l.msg === 'push' && meridian.logs.indexOf(l) >= seen);
    fullPush.push(Math.max(...times) - Date.parse(String(pushLog['time'])));
    pushBytes = bytes / PROXIES;
  }

  // Endpoint convergence: one endpoint of the service every proxy watches flips readiness.
  const kc = api.kubeConfig();
  const watchLatency: number[] = [];
  const informer = makeInformer<V1Service>(kc, '/api/v1/services', () => kc.makeApiClient(CoreV1Api).listServiceForAllNamespaces());
  let marker = 0;
  informer.on('update', () => watchLatency.push(performance.timeOrigin + performance.now() - marker));
  await informer.start();
  let round = 0;
  // One endpoint of the service every proxy watches flips readiness; between rounds a Service
  // change is timed through a raw informer (the baseline's watch latency).
  const measureConvergence = async (proxies: Swarm): Promise<number[]> => {
    const convergence: number[] = [];
    // The first rounds run the EDS push path while V8 still compiles it (twice the CPU of later
    // rounds); a control plane runs for days, so those are warm-up and not counted.
    for (let i = 0; i < CONVERGENCE_WARMUP_ROUNDS + 5; i++, round++) {
      proxies.send({ cmd: 'arm', typeUrl: EDS });
      await proxies.receive('armed');
      const t0 = performance.timeOrigin + performance.now();
      api.upsert(slice(0, round % 2 === 1));
      const { times } = await proxies.receive<{ times: number[] }>('times');
      if (i >= CONVERGENCE_WARMUP_ROUNDS) convergence.push(...times.map((t) => t - t0));
      marker = performance.timeOrigin + performance.now();
      api.upsert(k8s({ ...service(1), metadata: { name: 'svc-1', namespace: 'demo', labels: { round: String(round) } } }));
      await new Promise((r) => setTimeout(r, 300));
    }
    return convergence;
  };
  const convergence = await measureConvergence(swarm);
  await swarm.close();

  // The same with delta streams (what Envoy uses by default), alone on the same Meridian.
  const deltaSwarm = new Swarm();
  await deltaSwarm.receive('started');
  deltaSwarm.send({ cmd: 'ads', address: meridian.xdsAddress, count: PROXIES, subscriptions: [{ typeUrl: CDS, names: [] }, { typeUrl: EDS, names: [WATCHED] }], delta: true });
  await deltaSwarm.receive('ready');
  const deltaConvergence = await measureConvergence(deltaSwarm);
  await deltaSwarm.close();
  await informer.stop();
  await meridian.stop();

  // The peer, then the raw baseline, each with a fresh swarm, so all sides start equal.
  const built = await goPeer;
  const peer = 'binary' in built ? await goControlPlane(built.binary, snapshotDir) : undefined;
  if (!peer && 'missing' in built) process.stderr.write(`go-control-plane comparison skipped: ${built.missing}\n`);
  const rawSwarm = new Swarm();
  await rawSwarm.receive('started');
  const raw = await rawFanout(rawSwarm, Math.round(pushBytes));
  await rawSwarm.close();

  print(`xds.full_push_${PROXIES}_proxies_${Math.round(pushBytes / 1024)}kb`, percentile(fullPush, 50), 'ms', raw.ms);
  print('xds.memory_per_proxy', memoryPerProxy.heap / 1024, 'KiB', raw.perStream.heap / 1024);
  print('xds.memory_per_proxy_rss', memoryPerProxy.rss / 1024, 'KiB', raw.perStream.rss / 1024);
  if (peer) {
    print(`xds.full_push_vs_go_control_plane`, percentile(fullPush, 50), 'ms', peer.fullPushMs);
    print(`xds.go_control_plane.full_push_${PROXIES}_proxies`, peer.fullPushMs, 'ms', percentile(fullPush, 50));
    print('xds.memory_per_proxy_vs_go_control_plane', memoryPerProxy.heap / 1024, 'KiB', peer.perProxy.heap / 1024);
    print('xds.go_control_plane.memory_per_proxy', peer.perProxy.heap / 1024, 'KiB', memoryPerProxy.heap / 1024);
    print('xds.memory_per_proxy_rss_vs_go_control_plane', memoryPerProxy.rss / 1024, 'KiB', peer.perProxy.rss / 1024);
    print('xds.go_control_plane.memory_per_proxy_rss', peer.perProxy.rss / 1024, 'KiB', memoryPerProxy.rss / 1024);
  }
  print(`xds.eds_convergence_p50_${PROXIES}_proxies`, percentile(convergence, 50), 'ms', 100 + percentile(watchLatency, 50));
  print(`xds.eds_convergence_p99_${PROXIES}_proxies`, percentile(convergence, 99), 'ms', 100 + percentile(watchLatency, 50));
  print(`xds.delta_eds_convergence_p50_${PROXIES}_proxies`, percentile(deltaConvergence, 50), 'ms', 100 + percentile(watchLatency, 50));
  print(`xds.delta_eds_convergence_p99_${PROXIES}_proxies`, percentile(deltaConvergence, 99), 'ms', 100 + percentile(watchLatency, 50));
  await api.close();
  ws.remove();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
