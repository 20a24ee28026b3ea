/**
 * `pnpm bench telemetry`: what telemetry costs a sidecar's listeners. 1k services (`svc-<i>` in
 * `demo`), 1000 sidecars (the workloads behind each service's first endpoint), built in process
 * with a mesh-wide Telemetry turning on a JSON access log and OpenTelemetry tracing besides
 * Istio's workload metrics (on by default), against the same mesh with a Telemetry turning
 * every metric off and nothing else on.
 *  - telemetry.lds_bytes_per_sidecar: one sidecar's listeners (1k outbound port listeners
 *    share one port here: `0.0.0.0_8080`, and virtualInbound), encoded.
 *  - telemetry.lds_build_1000_sidecars: every sidecar's listeners built (a full push's LDS).
 * Baseline: the same without telemetry. Goal: ratio ≤ 1.2.
 * The `_metrics_only` measures are the mesh's default (Istio's too): workload metrics on,
 * no access log, no tracing.
 */
import { compileMeshPolicies, PolicyStore } from '@meridian/policy';
import { MeshResources, TypeUrl } from '@meridian/xds';
import { benchSidecar, inProcessMesh } from './support/in-process-mesh.ts';
import { percentile, print } from './support/report.ts';

const PROXIES = Number(process.env['BENCH_PROXIES'] ?? 1000);
const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 1000);
const WARMUP_RUNS = 5;

const MESH_TELEMETRY = {
  apiVersion: 'telemetry.istio.io/v1',
  kind: 'Telemetry',
  metadata: { name: 'mesh-default', namespace: 'meridian-system' },
  spec: { accessLogging: [{ providers: [{ name: 'json-stdout' }] }], tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 1 }] },
};

const NO_METRICS = {
  apiVersion: 'telemetry.istio.io/v1',
  kind: 'Telemetry',
  metadata: { name: 'mesh-default', namespace: 'meridian-system' },
  spec: { metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS' }, disabled: true }] }] },
};

function main(): void {
  const discovery = inProcessMesh(SERVICES);
  const options = {
    domainSuffix: 'cluster.local',
    rootNamespace: 'meridian-system',
    defaultMtlsMode: 'STRICT' as const,
    telemetryProviders: ['json-stdout'],
    tracingProviders: ['otel'],
  };
  const store = new PolicyStore();
  store.replace('c1', [{ value: MESH_TELEMETRY, origin: '#0' }]);
  const on = compileMeshPolicies(store.objects(), options).policies;
  const metricsOnly = compileMeshPolicies([], options).policies;
  const quiet = new PolicyStore();
  quiet.replace('c1', [{ value: NO_METRICS, origin: '#0' }]);
  const off = compileMeshPolicies(quiet.objects(), options).policies;
  const proxies = Array.from({ length: PROXIES }, (_, i) => benchSidecar(i % SERVICES));
  const build = (policies: typeof on) => {
    const resources = new MeshResources({
      discovery,
      domainSuffix: 'cluster.local',
      clusterLocalHosts: [],
      mtls: { mode: 'strict', trustDomain: 'cluster.local' },
      policies: () => policies,
      accessLogProviders: [{ name: 'json-stdout', path: '/dev/stdout', format: 'json' }],
      tracingProviders: [{ name: 'otel', service: 'otel-collector.observability.svc.cluster.local', port: 4317 }],
    });
    const t0 = performance.now();
    let bytes = 0;
    for (const proxy of proxies) {
      const listeners = resources.generate(TypeUrl.Listener, proxy, undefined);
      if (proxy === proxies[0]) bytes = listeners.reduce((n, r) => n + r.any.length, 0);
    }
    return { ms: performance.now() - t0, bytes };
  };
  for (let i = 0; i < WARMUP_RUNS; i++) {
    build(on);
    build(metricsOnly);
    build(off);
  }
  // Interleaved, so a slower stretch of a shared machine falls on every variant alike.
  const runs = Array.from({ length: 10 }, () => ({ on: build(on), metrics: build(metricsOnly), off: build(off) }));
  const median = (pick: (r: (typeof runs)[number]) => { ms: number }) => percentile(runs.map((r) => pick(r).ms), 50);
  const [first] = runs;
  print('telemetry.lds_bytes_per_sidecar', first?.on.bytes ?? NaN, 'bytes', first?.off.bytes ?? NaN);
  print(`telemetry.lds_build_${PROXIES}_sidecars`, median((r) => r.on), 'ms', median((r) => r.off));
  print('telemetry.lds_bytes_per_sidecar_metrics_only', first?.metrics.bytes ?? NaN, 'bytes', first?.off.bytes ?? NaN);
  print(`telemetry.lds_build_${PROXIES}_sidecars_metrics_only`, median((r) => r.metrics), 'ms', median((r) => r.off));
}

main();
