/**
 * `pnpm bench authz`: AuthorizationPolicy at scale. 1k services (`svc-<i>` in `demo`, ten
 * endpoints each; the workload behind svc-i's first endpoint is labelled `app: svc-<i>`), one
 * ALLOW policy per workload (1000) and a namespace-wide DENY: 1001 policies.
 *  - authz.compile_1001_policies: the policies compiled into the model (`compileMeshPolicies`);
 *    baseline: reading and validating the same objects (`PolicyStore.replace`).
 *  - authz.inbound_build_1000_sidecars: 1000 sidecars' virtualInbound listener and inbound
 *    route (where the RBAC rules travel) built with the policies; baseline: the same without.
 *  - authz.inbound_bytes_per_sidecar: one sidecar's virtualInbound + inbound route, encoded;
 *    baseline: the same without policies.
 *  - authz.policy_change_convergence_p50/p99_1000_proxies: the real `meridian serve` on a
 *    Kubernetes API (the test server, real HTTP) with the 1001 policies, 1000 delta streams as
 *    sidecars of those workloads; the namespace-wide DENY changes → every proxy received its
 *    new inbound route; 5 rounds after 2 warm-up rounds. Baseline: an endpoint change → its
 *    assignment at every proxy, in the same rounds.
 */
import { compileMeshPolicies, PolicyStore } from '@meridian/policy';
import { KubeApiServer } from '@meridian/testkit';
import { MeshResources, TypeUrl } from '@meridian/xds';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { POLICY_CRDS } from '../support/policy-crds.ts';
import { EDS, k8s, seedMesh, slice, Swarm, WATCHED } from './support/generated-mesh.ts';
import { benchSidecar, inProcessMesh } from './support/in-process-mesh.ts';
import { percentile, print } from './support/report.ts';

const PROXIES = Number(process.env['BENCH_PROXIES'] ?? 1000);
const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 1000);
const WARMUP_ROUNDS = 2;
const ROUNDS = 5;
const WARMUP_RUNS = 5;
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const INBOUND_ROUTE = 'inbound|8080||';

/** svc-i's own ALLOW: callers of the namespace, reads only, and its health checker by IP. */
function workloadPolicy(i: number) {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: `svc-${i}`, namespace: 'demo' },
    spec: {
      selector: { matchLabels: { app: `svc-${i}` } },
      rules: [
        { from: [{ source: { namespaces: ['demo'], principals: [`cluster.local/ns/demo/sa/caller-${i % 50}`] } }], to: [{ operation: { methods: ['GET', 'HEAD'], paths: ['/api/*'] } }] },
        { from: [{ source: { ipBlocks: ['10.250.0.0/16'] } }], to: [{ operation: { paths: ['/healthz'] } }] },
      ],
    },
  };
}

/** The namespace-wide DENY whose paths each round flips: every workload's rules change. */
function namespaceDeny(round: number) {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'no-admin', namespace: 'demo' },
    spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: [`/admin-${round}/*`] } }] }] },
  };
}

const policyObjects = () => [...Array.from({ length: SERVICES }, (_, i) => workloadPolicy(i)), namespaceDeny(0)];

function inProcess(): void {
  const objects = policyObjects();
  const documents = objects.map((o, i) => ({ value: o as unknown, origin: `#${i}` }));
  const options = { domainSuffix: 'cluster.local', rootNamespace: 'meridian-system', defaultMtlsMode: 'STRICT' as const };
  const validate = () => {
    const store = new PolicyStore();
    const t0 = performance.now();
    store.replace('c1', documents);
    return { ms: performance.now() - t0, store };
  };
  const compile = (store: PolicyStore) => {
    const t0 = performance.now();
    const compiled = compileMeshPolicies(store.objects(), options);
    return { ms: performance.now() - t0, compiled };
  };
  for (let i = 0; i < WARMUP_RUNS; i++) compile(validate().store);
  const validations = Array.from({ length: 10 }, validate);
  const compiles = validations.map((v) => compile(v.store));
  print('authz.compile_1001_policies', percentile(compiles.map((c) => c.ms), 50), 'ms', percentile(validations.map((v) => v.ms), 50));

  const discovery = inProcessMesh(SERVICES);
  const proxies = Array.from({ length: PROXIES }, (_, i) => benchSidecar(i % SERVICES));
  const { compiled } = compiles[0] ?? compile(validate().store);
  const noPolicy = compileMeshPolicies([], options);
  const build = (policies: typeof compiled.policies) => {
    const resources = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], mtls: { mode: 'strict', trustDomain: 'cluster.local' }, policies: () => policies });
    const t0 = performance.now();
    let bytes = 0;
    for (const proxy of proxies) {
      const listener = resources.generate(TypeUrl.Listener, proxy, new Set(['virtualInbound']));
      const route = resources.generate(TypeUrl.Route, proxy, new Set([INBOUND_ROUTE]));
      if (proxy === proxies[0]) bytes = [...listener, ...route].reduce((n, r) => n + r.any.length, 0);
    }
    return { ms: performance.now() - t0, bytes };
  };
  for (let i = 0; i < WARMUP_RUNS; i++) {
    build(compiled.policies);
    build(noPolicy.policies);
  }
  const withPolicy = Array.from({ length: 10 }, () => build(compiled.policies));
  const without = Array.from({ length: 10 }, () => build(noPolicy.policies));
  print(`authz.inbound_build_${PROXIES}_sidecars`, percentile(withPolicy.map((r) => r.ms), 50), 'ms', percentile(without.map((r) => r.ms), 50));
  print('authz.inbound_bytes_per_sidecar', withPolicy[0]?.bytes ?? NaN, 'bytes', without[0]?.bytes ?? NaN);
}

async function convergence(): Promise<void> {
  const api = await KubeApiServer.start({ resources: POLICY_CRDS });
  seedMesh(api, SERVICES);
  for (const o of policyObjects()) api.upsert(k8s(o));
  const ws = new Workspace('meridian-bench-authz-');
  ws.write('c1.kubeconfig', api.kubeconfigYaml());
  const config = ws.writeConfig({ clusters: [{ id: 'c1', kubeconfig: './c1.kubeconfig' }], mtls: { mode: 'strict' }, log: { level: 'warn' } });
  const meridian = await MeridianProcess.start(['serve', '--config', config], { MERIDIAN_LOG_LEVEL: 'info' });
  const swarm = new Swarm();
  await swarm.receive('started');
  swarm.send({
    cmd: 'ads',
    address: meridian.xdsAddress,
    count: PROXIES,
    subscriptions: [{ typeUrl: LDS, names: [] }, { typeUrl: RDS, names: [INBOUND_ROUTE] }, { typeUrl: EDS, names: [WATCHED] }],
    delta: true,
    labels: true,
  });
  await swarm.receive('ready');
  await new Promise((r) => setTimeout(r, 2000));

  const policyChange: number[] = [];
  const endpointChange: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const counted = round >= WARMUP_ROUNDS;
    const policyTimes = await swarm.timeChange(RDS, () => api.upsert(k8s(namespaceDeny(round + 1))));
    const endpointTimes = await swarm.timeChange(EDS, () => api.upsert(slice(0, round % 2 === 1)));
    if (counted) {
      policyChange.push(...policyTimes);
      endpointChange.push(...endpointTimes);
    }
  }
  await swarm.close();
  await meridian.stop();
  await api.close();
  ws.remove();
  print(`authz.policy_change_convergence_p50_${PROXIES}_proxies`, percentile(policyChange, 50), 'ms', percentile(endpointChange, 50));
  print(`authz.policy_change_convergence_p99_${PROXIES}_proxies`, percentile(policyChange, 99), 'ms', percentile(endpointChange, 99));
}

async function main(): Promise<void> {
  inProcess();
  await convergence();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
