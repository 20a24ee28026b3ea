/**
 * What telemetry costs a sidecar's listeners (`pnpm bench telemetry`, and `pnpm bench xds`
 * prints the same lines): see telemetry.bench.ts.
 */
import { compileMeshPolicies, PolicyStore } from '@meridian/policy';
import { MeshResources, TypeUrl } from '@meridian/xds';
import { benchSidecar, inProcessMesh } from './in-process-mesh.ts';
import { percentile, print } from './report.ts';

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

export function measureTelemetryCost(proxyCount: number, serviceCount: number): void {
  const discovery = inProcessMesh(serviceCount);
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
  const proxies = Array.from({ length: proxyCount }, (_, i) => benchSidecar(i % serviceCount));
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
  print(`telemetry.lds_build_${proxyCount}_sidecars`, median((r) => r.on), 'ms', median((r) => r.off));
  print('telemetry.lds_bytes_per_sidecar_metrics_only', first?.metrics.bytes ?? NaN, 'bytes', first?.off.bytes ?? NaN);
  print(`telemetry.lds_build_${proxyCount}_sidecars_metrics_only`, median((r) => r.metrics), 'ms', median((r) => r.off));
}

