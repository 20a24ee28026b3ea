/**
 * `pnpm bench policy`: traffic policy at scale. A mesh of 1k services and 10k endpoints in a
 * Kubernetes API (the test API server, over real HTTP) that also serves Istio's CRDs, holding
 * a VirtualService and a DestinationRule (with two subsets) per service: 2k policy objects.
 * 1000 delta ADS streams (as Envoy connects) take every cluster and one assignment.
 *  - policy.dr_change_convergence_p50/p99_1000_proxies: a DestinationRule change in the API
 *    (svc-0's max requests) → the changed cluster received by all 1000 proxies; 5 rounds after
 *    2 warm-up rounds. Baseline: an endpoint change (svc-0's first endpoint flips readiness)
 *    → its assignment received by all of them, measured in the same rounds.
 *  - policy.memory_per_proxy_2k_objects: Meridian's live heap per connected proxy with the 2k
 *    objects in effect (subset clusters included: three clusters per service); baseline: the
 *    same figure before any policy existed, in the same process.
 *  - policy.memory_per_proxy_sidecar_scope_10_services: the same once a mesh-wide Sidecar
 *    scopes every proxy to 10 services; baseline: the figure before it.
 * Meridian's compile and push of policy go through the same debounce as discovery.
 */
import { KubeApiServer } from '@meridian/testkit';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { POLICY_CRDS } from '../support/policy-crds.ts';
import { CDS, EDS, k8s, seedMesh, slice, Swarm, WATCHED } from './support/generated-mesh.ts';
import { GC_PROBE_NODE_ARGS, meridianMemory } from './support/meridian-memory.ts';
import { percentile, print } from './support/report.ts';

const PROXIES = Number(process.env['BENCH_PROXIES'] ?? 1000);
const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 1000);
const WARMUP_ROUNDS = 2;
const ROUNDS = 5;

function destinationRule(i: number, maxRequests: number) {
  return k8s({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: `svc-${i}`, namespace: 'demo' },
    spec: {
      host: `svc-${i}`,
      trafficPolicy: { connectionPool: { http: { http2MaxRequests: maxRequests } } },
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
    },
  });
}

/** The mesh default Sidecar: every proxy sees the first `n` services only. */
function sidecarScope(n: number) {
  return k8s({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: { name: 'default', namespace: 'meridian-system' },
    spec: { egress: [{ hosts: Array.from({ length: n }, (_, i) => `demo/svc-${i}.demo.svc.cluster.local`) }] },
  });
}

function virtualService(i: number) {
  return k8s({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: `svc-${i}`, namespace: 'demo' },
    spec: {
      hosts: [`svc-${i}`],
      http: [
        { match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: [{ destination: { host: `svc-${i}`, subset: 'v2' } }] },
        { timeout: '5s', route: [{ destination: { host: `svc-${i}`, subset: 'v1' }, weight: 90 }, { destination: { host: `svc-${i}`, subset: 'v2' }, weight: 10 }] },
      ],
    },
  });
}

async function main(): Promise<void> {
  const api = await KubeApiServer.start({ resources: POLICY_CRDS });
  seedMesh(api, SERVICES);
  const ws = new Workspace('meridian-bench-policy-');
  ws.write('c1.kubeconfig', api.kubeconfigYaml());
  const config = ws.writeConfig({ clusters: [{ id: 'c1', kubeconfig: './c1.kubeconfig' }], log: { level: 'warn' } });
  const meridian = await MeridianProcess.start(['serve', '--config', config], { MERIDIAN_LOG_LEVEL: 'info' }, { nodeArgs: GC_PROBE_NODE_ARGS });

  const swarm = new Swarm();
  await swarm.receive('started');
  const empty = await meridianMemory(meridian);
  swarm.send({ cmd: 'ads', address: meridian.xdsAddress, count: PROXIES, subscriptions: [{ typeUrl: CDS, names: [] }, { typeUrl: EDS, names: [WATCHED] }], delta: true });
  await swarm.receive('ready');
  await new Promise((r) => setTimeout(r, 2000));
  const withoutPolicy = await meridianMemory(meridian);

  // The 2k objects arrive; every proxy then has three clusters per service.
  swarm.send({ cmd: 'arm', typeUrl: CDS });
  await swarm.receive('armed');
  for (let i = 0; i < SERVICES; i++) {
    api.upsert(destinationRule(i, 100));
    api.upsert(virtualService(i));
  }
  await swarm.receive('times');
  await new Promise((r) => setTimeout(r, 2000));
  const withPolicy = await meridianMemory(meridian);

  const policyChange: number[] = [];
  const endpointChange: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const counted = round >= WARMUP_ROUNDS;
    const policyTimes = await swarm.timeChange(CDS, () => api.upsert(destinationRule(0, round % 2 === 0 ? 200 : 100)));
    const endpointTimes = await swarm.timeChange(EDS, () => api.upsert(slice(0, round % 2 === 1)));
    if (counted) {
      policyChange.push(...policyTimes);
      endpointChange.push(...endpointTimes);
    }
  }
  // A mesh-wide Sidecar (in Meridian's root namespace) scoping every proxy to 10 services.
  swarm.send({ cmd: 'arm', typeUrl: CDS });
  await swarm.receive('armed');
  api.upsert(sidecarScope(10));
  await swarm.receive('times');
  await new Promise((r) => setTimeout(r, 2000));
  const withScope = await meridianMemory(meridian);

  await swarm.close();
  await meridian.stop();
  await api.close();
  ws.remove();

  print(`policy.dr_change_convergence_p50_${PROXIES}_proxies`, percentile(policyChange, 50), 'ms', percentile(endpointChange, 50));
  print(`policy.dr_change_convergence_p99_${PROXIES}_proxies`, percentile(policyChange, 99), 'ms', percentile(endpointChange, 99));
  const perProxy = (after: { heap: number }) => (after.heap - empty.heap) / PROXIES / 1024;
  print('policy.memory_per_proxy_2k_objects', perProxy(withPolicy), 'KiB', perProxy(withoutPolicy));
  print('policy.memory_per_proxy_sidecar_scope_10_services', perProxy(withScope), 'KiB', perProxy(withPolicy));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
