/**
 * `pnpm bench probes`: the adversarial probes of the security review, re-run against the
 * real `meridian serve` so their figures can be reproduced:
 *  - 3 ADS requests of 100k unknown EDS names: live heap growth after GC (baseline: the
 *    same with 100 names), resources cached (baseline: the cache bound) and the worst /healthz answer
 *    meanwhile (baseline: /healthz when idle);
 *  - a proxy that stops reading while it keeps asking for 20k names (2.4 MB answers): bytes
 *    buffered for it (baseline: the 1 MiB bound), and pushes another proxy still got;
 *  - 2,000 NACKs from one proxy: log lines written (baseline: NACKs sent);
 *  - /debug/registryz on a 50k-endpoint mesh: bytes and time of one answer, and the worst
 *    /healthz answer while 20 are asked at once (baseline: /healthz when idle).
 */
import { mkdirSync, renameSync } from 'node:fs';
import http2 from 'node:http2';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { bigManifest, MANIFEST_SERVICES, SLICES_PER_SERVICE } from './support/big-mesh.ts';
import { GC_PROBE_NODE_ARGS, meridianMemory } from './support/meridian-memory.ts';
import { idleHealthz, worstHealthz } from './support/healthz.ts';
import { percentile, print } from './support/report.ts';
import { scrapeMetric } from '../support/prometheus.ts';

const ECHO = 'outbound|7070||echo.demo.svc.cluster.local';
const median = (xs: readonly number[]) => percentile(xs, 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function echoYaml(address: string): string {
  return yamlDocs(service('echo', 'demo', [{ name: 'grpc', port: 7070 }]), endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 7070 }, [{ address }]));
}

async function unknownNames(meridian: MeridianProcess): Promise<void> {
  const request = async (count: number, tag: string) => {
    const names = Array.from({ length: count }, (_, i) => `outbound|7070||${tag}-${i}.demo.svc.cluster.local`);
    const client = AdsTestClient.connect(meridian.xdsAddress, { id: `probe-${tag}` });
    await client.requestAck(TypeUrls.Endpoint, names);
    client.close();
  };
  // Live memory after two forced GCs: what the server keeps, not the garbage a probe leaves.
  const before = await meridianMemory(meridian);
  for (let k = 0; k < 3; k++) await request(100, `small${k}`);
  const small = await meridianMemory(meridian);
  const idle = await idleHealthz(meridian);
  const worst = await worstHealthz(meridian, async () => {
    for (let k = 0; k < 3; k++) await request(100_000, `big${k}`);
  });
  const after = await meridianMemory(meridian);
  const cache = (await meridian.getJson<{ entries: number }>('/debug/cachez')).body;
  process.stderr.write(`unknown names: RSS ${(before.rss / 1e6).toFixed(0)} → ${(after.rss / 1e6).toFixed(0)} MB (after GC; V8 keeps pages it grew into)\n`);
  print('probes.unknown_names_heap_growth', (after.heap - small.heap) / 1e6, 'MB', Math.max(small.heap - before.heap, 1e5) / 1e6);
  print('probes.unknown_names_cache_entries', cache.entries, 'entries', 50_000);
  print('probes.unknown_names_max_stall', worst, 'ms', idle);
}

/** A protobuf length-delimited field. */
function field(number: number, bytes: Buffer): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    for (; n > 127; n >>>= 7) out.push((n & 127) | 128);
    out.push(n);
    return Buffer.from(out);
  };
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

/** DiscoveryRequest{node{id}, resource_names, type_url}, encoded by hand (fields 2, 3, 4). */
function discoveryRequest(nodeId: string | undefined, typeUrl: string, names: readonly string[]): Buffer {
  return Buffer.concat([
    ...(nodeId ? [field(2, field(1, Buffer.from(nodeId)))] : []),
    ...names.map((n) => field(3, Buffer.from(n))),
    field(4, Buffer.from(typeUrl)),
  ]);
}

/** One gRPC message on the wire: uncompressed flag, length, bytes. */
function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

async function stuckProxy(meridian: MeridianProcess, ws: Workspace): Promise<void> {
  const names = (round: number) => [ECHO, ...Array.from({ length: 20_000 }, (_, i) => `outbound|7070||stuck-${round}-${i}.demo.svc.cluster.local`)];
  // A proxy that never reads: raw HTTP/2 whose response stream is never consumed, so its
  // flow-control windows fill (a grpc-js client reads into its own memory whatever it is
  // told). It keeps asking for 20k other names: each answer is about 2.4 MB.
  const session = http2.connect(`http://${meridian.xdsAddress}`);
  session.on('error', () => undefined);
  const stuck = session.request({ ':method': 'POST', ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', 'content-type': 'application/grpc', te: 'trailers' });
  stuck.on('error', () => undefined);
  stuck.pause();
  const ROUNDS = 20;
  for (let round = 0; round < ROUNDS; round++) {
    stuck.write(grpcFrame(discoveryRequest(round === 0 ? 'probe-stuck' : undefined, TypeUrls.Endpoint, names(round))));
    await sleep(150);
  }
  const other = AdsTestClient.connect(meridian.xdsAddress, { id: 'probe-other' });
  await other.requestAck(TypeUrls.Endpoint, [ECHO]);
  let received = 0;
  const PUSHES = 10;
  for (let i = 0; i < PUSHES; i++) {
    const address = `10.9.0.${i + 1}`;
    ws.write('mesh/.echo.tmp', echoYaml(address));
    renameSync(ws.path('mesh/.echo.tmp'), ws.path('mesh/echo.yaml'));
    for (;;) {
      const r = await other.next(10_000);
      other.ack(r, [ECHO]);
      if (JSON.stringify(r.resources).includes(address)) break;
    }
    received++;
  }
  const syncz = (await meridian.getJson<{ proxies: Array<{ node: string; blocked: boolean; bufferedBytes: number }> }>('/debug/syncz')).body;
  const row = syncz.proxies.find((p) => p.node === 'probe-stuck');
  process.stderr.write(`stuck proxy after ${ROUNDS} requests of 20k names unread: blocked=${row?.blocked} bufferedBytes=${row?.bufferedBytes}\n`);
  print('probes.stuck_proxy_buffered', (row?.bufferedBytes ?? NaN) / 1e6, 'MB', 1.048576);
  print('probes.other_proxy_pushes_while_stuck', received, 'pushes', PUSHES);
  stuck.close();
  session.close();
  other.close();
}

async function nacks(meridian: MeridianProcess): Promise<void> {
  const client = AdsTestClient.connect(meridian.xdsAddress, { id: 'probe-nacker' });
  const first = await client.requestAck(TypeUrls.Cluster);
  const before = await scrapeMetric(meridian.httpAddress, 'meridian_xds_rejects_total');
  const COUNT = 2000;
  for (let i = 0; i < COUNT; i++) client.send({ typeUrl: TypeUrls.Cluster, nonce: first.nonce, version: '', error: { code: 3, message: `rejected ${i}` } });
  for (let i = 0; i < 500 && (await scrapeMetric(meridian.httpAddress, 'meridian_xds_rejects_total')) - before < COUNT; i++) await sleep(20);
  const counted = (await scrapeMetric(meridian.httpAddress, 'meridian_xds_rejects_total')) - before;
  const lines = meridian.logs.filter((l) => l['node'] === 'probe-nacker' && String(l['msg']).startsWith('proxy rejected config')).length;
  process.stderr.write(`nacks: ${counted} counted in meridian_xds_rejects_total\n`);
  print('probes.nack_log_lines', lines, 'lines', COUNT);
  client.close();
}

async function registryz(meridian: MeridianProcess, ws: Workspace): Promise<void> {
  const { objects } = bigManifest();
  ws.write('mesh/.big.tmp', yamlDocs(...objects));
  renameSync(ws.path('mesh/.big.tmp'), ws.path('mesh/big.yaml'));
  for (;;) {
    const body = (await meridian.getJson<{ clusters: Array<{ objects: { endpointSlices: number } }> }>('/debug/clusterz')).body;
    if ((body.clusters[0]?.objects.endpointSlices ?? 0) >= MANIFEST_SERVICES * SLICES_PER_SERVICE) break;
    await sleep(50);
  }
  await sleep(1500);
  const idle = await idleHealthz(meridian);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    bytes = (await (await fetch(`http://${meridian.httpAddress}/debug/registryz`)).arrayBuffer()).byteLength;
    times.push(performance.now() - t);
  }
  const worst = await worstHealthz(meridian, async () => {
    await Promise.all(Array.from({ length: 20 }, () => fetch(`http://${meridian.httpAddress}/debug/registryz`).then((r) => r.arrayBuffer())));
  });
  print('probes.registryz_50k_bytes', bytes / 1e3, 'kB', 8000);
  print('probes.registryz_50k_ms', median(times), 'ms', idle);
  print('probes.registryz_50k_20_concurrent_max_stall', worst, 'ms', idle);
}

async function main(): Promise<void> {
  const ws = new Workspace('meridian-bench-');
  mkdirSync(ws.path('mesh'));
  ws.write('mesh/echo.yaml', echoYaml('10.0.0.1'));
  const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './mesh' }] });
  const meridian = await MeridianProcess.start(['serve', '--config', config], {}, { nodeArgs: GC_PROBE_NODE_ARGS });
  try {
    await sleep(500);
    const only = process.argv[2];
    const run = (name: string) => only === undefined || only === name;
    if (run('unknown-names')) await unknownNames(meridian);
    if (run('stuck')) await stuckProxy(meridian, ws);
    if (run('nacks')) await nacks(meridian);
    if (run('registryz')) await registryz(meridian, ws);
  } finally {
    await meridian.stop();
    ws.remove();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String(err)}\n`);
    process.exit(1);
  },
);
