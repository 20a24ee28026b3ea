/**
 * `pnpm bench discovery`: Kubernetes discovery figures against test API servers.
 *  - remote secret added → its cluster's endpoints in an ADS client's EDS; baseline: a raw
 *    client-node informer seeing the same Secret appear (the API's own watch latency);
 *  - API outage recovery: API back → a change made during the outage in the client's EDS;
 *    baseline: a fresh client-node informer listing and watching the restarted API. The
 *    value is dominated by the watch-restart backoff (here 200 ms doubling to 1 s).
 */
import { CoreV1Api, DiscoveryV1Api, makeInformer, type V1Secret } from '@kubernetes/client-node';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { SYSTEM_NAMESPACE, remoteSecret, startKubeCluster } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const NAME = 'outbound|7070||echo.demo.svc.cluster.local';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const print = (bench: string, value: number, baseline: number) =>
  process.stdout.write(`${JSON.stringify({ bench, value: Math.round(value), unit: 'ms', baseline: Math.round(baseline), ratio: Math.round((value / baseline) * 100) / 100 })}\n`);

async function untilEds(client: AdsTestClient, has: (text: string) => boolean): Promise<void> {
  for (;;) {
    const r = await client.next(30_000);
    client.ack(r, [NAME]);
    if (has(JSON.stringify(r.resources))) return;
  }
}

async function main(): Promise<void> {
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

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String(err)}\n`);
    process.exit(1);
  },
);
