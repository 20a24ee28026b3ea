/**
 * `pnpm bench discovery`: Kubernetes discovery figures against test API servers.
 *  - remote secret added → its cluster's endpoints in an ADS client's EDS; baseline: a raw
 *    client-node informer seeing the same Secret appear (the API's own watch latency);
 *  - API outage recovery: API back → a change made during the outage in the client's EDS;
 *    baseline: a fresh client-node informer listing and watching the restarted API. The
 *    value is dominated by the watch-restart backoff (here 200 ms doubling to 1 s);
 *  - a manifest of 50k endpoints (50 services, 500 slices of 100) replacing a small one: the
 *    longest `/healthz` answer while it loads (the event loop's worst stall, seen from outside;
 *    baseline: `JSON.parse` of the same objects in one go) and Meridian's RSS growth (baseline:
 *    the manifest's size).
 * `pnpm bench discovery manifest` runs only the last one.
 */
import { CoreV1Api, DiscoveryV1Api, makeInformer, type V1Secret } from '@kubernetes/client-node';
import { mkdirSync, renameSync } from 'node:fs';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { SYSTEM_NAMESPACE, remoteSecret, startKubeCluster } from '../support/kube-cluster.ts';
import { service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { MANIFEST_SERVICES, SLICES_PER_SERVICE, bigManifest } from './support/big-mesh.ts';
import { worstHealthz } from './support/healthz.ts';
import { scrapeMetric } from '../support/prometheus.ts';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const NAME = 'outbound|7070||echo.demo.svc.cluster.local';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const print = (bench: string, value: number, baseline: number, unit = 'ms') =>
  process.stdout.write(`${JSON.stringify({ bench, value: Math.round(value), unit, baseline: Math.round(baseline), ratio: Math.round((value / baseline) * 100) / 100 })}\n`);

async function untilEds(client: AdsTestClient, has: (text: string) => boolean): Promise<void> {
  for (;;) {
    const r = await client.next(30_000);
    client.ack(r, [NAME]);
    if (has(JSON.stringify(r.resources))) return;
  }
}

async function remoteSecrets(): Promise<void> {
  const ws = new Workspace('meridian-bench-');
  const primary = await startKubeCluster('primary', 'r1');
  primary.setEcho([{ ip: '10.0.0.1' }], 8080);
  ws.write('primary.kubeconfig', primary.api.kubeconfigYaml({ token: primary.token }));
  const config = ws.writeConfig({
    namespace: SYSTEM_NAMESPACE,
    clusters: [{ id: 'primary', kubeconfig: './primary.kubeconfig', primary: true }],
    discovery: { backoff: { initialMs: 200, maxMs: 1000 } },
  });
  const meridian = await MeridianProcess.start(['serve', '--config', config]);
  const client = AdsTestClient.connect(meridian.xdsAddress, { id: 'bench', metadata: { CLUSTER_ID: 'primary' } });
  await client.requestAck(TypeUrls.Endpoint, [NAME]);

  // Baseline watcher: a plain informer on the primary's secrets.
  const kc = primary.api.kubeConfig({ token: primary.token });
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Secret>(kc, `/api/v1/namespaces/${SYSTEM_NAMESPACE}/secrets`, () => core.listNamespacedSecret({ namespace: SYSTEM_NAMESPACE }));
  const seen = new Map<string, number>();
  informer.on('add', (s) => seen.set(s.metadata?.name ?? '', performance.now()));
  await informer.start();

  const addTimes: number[] = [];
  const rawAdd: number[] = [];
  const recoveries: number[] = [];
  const rawRecoveries: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const remote = await startKubeCluster(`remote${round}`, 'r2');
    const ip = `10.1.0.${round + 1}`;
    remote.setEcho([{ ip }], 8080);
    const secret = `remote-${round}`;
    const t0 = performance.now();
    primary.api.upsert(remoteSecret(secret, { [`remote${round}`]: remote.api.kubeconfigYaml({ token: remote.token }) }));
    await untilEds(client, (t) => t.includes(ip));
    addTimes.push(performance.now() - t0);
    while (!seen.has(secret)) await new Promise((r) => setTimeout(r, 5));
    rawAdd.push((seen.get(secret) ?? t0) - t0);

    // Outage: stop the remote's API, change its endpoints meanwhile, bring it back.
    await remote.api.stop();
    await new Promise((r) => setTimeout(r, 1500));
    const changed = `10.1.1.${round + 1}`;
    remote.setEcho([{ ip }, { ip: changed }], 8080);
    const t1 = performance.now();
    await remote.api.start();
    await untilEds(client, (t) => t.includes(changed));
    recoveries.push(performance.now() - t1);
    const t2 = performance.now();
    const remoteKc = remote.api.kubeConfig({ token: remote.token });
    const slices = remoteKc.makeApiClient(DiscoveryV1Api);
    const fresh = makeInformer(remoteKc, '/apis/discovery.k8s.io/v1/endpointslices', () => slices.listEndpointSliceForAllNamespaces());
    await fresh.start();
    rawRecoveries.push(performance.now() - t2);
    await fresh.stop();
    primary.api.remove({ apiVersion: 'v1', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: secret });
    await untilEds(client, (t) => !t.includes(ip));
    await remote.api.close();
  }
  print('discovery.remote_secret_to_eds', median(addTimes), median(rawAdd));
  print('discovery.outage_recovery_to_eds', median(recoveries), median(rawRecoveries));

  await informer.stop();
  client.close();
  await meridian.stop();
  await primary.api.close();
  ws.remove();
}


async function manifestLoad(): Promise<void> {
  const ws = new Workspace('meridian-bench-');
  const { objects, endpoints } = bigManifest();
  const text = yamlDocs(...objects);
  const json = JSON.stringify(objects);
  const t0 = performance.now();
  JSON.parse(json);
  const jsonParseMs = performance.now() - t0;

  mkdirSync(ws.path('mesh'));
  ws.write('mesh/small.yaml', yamlDocs(service('seed', 'demo', [{ name: 'grpc', port: 7070 }])));
  const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './mesh' }] });
  const meridian = await MeridianProcess.start(['serve', '--config', config]);
  const slicesLoaded = async () => {
    const body = (await meridian.getJson<{ clusters: Array<{ objects: { endpointSlices: number } }> }>('/debug/clusterz')).body;
    return body.clusters[0]?.objects.endpointSlices ?? 0;
  };
  await new Promise((r) => setTimeout(r, 1000));
  const rssBefore = await scrapeMetric(meridian.httpAddress, 'process_resident_memory_bytes');

  let loadedMs = 0;
  const worst = await worstHealthz(meridian, async () => {
    // Written aside and renamed into place: the supported way to replace a manifest.
    ws.write('mesh/.big.yaml.tmp', text);
    const start = performance.now();
    renameSync(ws.path('mesh/.big.yaml.tmp'), ws.path('mesh/big.yaml'));
    while ((await slicesLoaded()) < MANIFEST_SERVICES * SLICES_PER_SERVICE) await new Promise((r) => setTimeout(r, 20));
    loadedMs = performance.now() - start;
    await new Promise((r) => setTimeout(r, 1000)); // the push that follows
  });
  const rssAfter = await scrapeMetric(meridian.httpAddress, 'process_resident_memory_bytes');
  process.stderr.write(`manifest: ${endpoints} endpoints, ${(text.length / 1e6).toFixed(1)} MB, loaded in ${Math.round(loadedMs)} ms\n`);
  print('discovery.manifest_50k_max_stall', worst, jsonParseMs);
  print('discovery.manifest_50k_rss_growth', (rssAfter - rssBefore) / 1e6, text.length / 1e6, 'MB');
  await meridian.stop();
  ws.remove();
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only !== 'manifest') await remoteSecrets();
  await manifestLoad();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String(err)}\n`);
    process.exit(1);
  },
);
