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
import { measureTelemetryCost } from './support/telemetry-cost.ts';

measureTelemetryCost(Number(process.env['BENCH_PROXIES'] ?? 1000), Number(process.env['BENCH_SERVICES'] ?? 1000));
