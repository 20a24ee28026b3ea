/**
 * Telemetry as generators consume it: which access-log providers a workload's sidecar
 * writes to, as a client (outbound) and as a server (inbound), and how it traces. The `policy` package builds it
 * from Istio's Telemetry resources and the config's defaults.
 */
import type { PolicyWorkload } from './security-policy.ts';

/** An access-log sink from the config (`telemetry.providers`). */
export interface AccessLogProvider {
  readonly name: string;
  readonly path: string;
  readonly format: 'json' | 'text';
}

/** Provider names per direction, sorted. */
export interface AccessLogging {
  readonly client: readonly string[];
  readonly server: readonly string[];
  /** Per direction, a provider's CEL filter (Telemetry `filter.expression`): only what it holds true for is logged. */
  readonly filters?: { readonly client?: Readonly<Record<string, string>>; readonly server?: Readonly<Record<string, string>> };
}

/**
 * A sink one direction of a sidecar logs to, with its filter: a file, or an OpenTelemetry
 * collector (a tracing provider named for logging too: its OTLP/gRPC logs service).
 */
export type AccessLogSink = (AccessLogProvider | { readonly name: string; readonly collector: TracingProvider }) & { readonly filter?: string };

/** An OTLP/gRPC trace collector from the config (`telemetry.providers`). */
export interface TracingProvider {
  readonly name: string;
  /** A mesh service's hostname, another host name, or an IP address. */
  readonly service: string;
  readonly port: number;
}

/** A span tag Telemetry adds: a literal, a request header, or an environment variable of the proxy. */
export interface CustomTag {
  readonly tag: string;
  readonly literal?: string;
  readonly header?: { readonly name: string; readonly defaultValue?: string };
  readonly environment?: { readonly name: string; readonly defaultValue?: string };
}

/** How one direction of a workload's traffic is traced. */
export interface TracingSettings {
  readonly provider: string;
  /** 0–100: the share of requests that start a trace (an incoming trace context decides for itself). */
  readonly samplingPercent: number;
  readonly customTags: readonly CustomTag[];
}

/** Per direction; absent: not traced. */
export interface Tracing {
  readonly client?: TracingSettings;
  readonly server?: TracingSettings;
}

/** Istio's standard workload metrics, as Telemetry `metrics.overrides` name them. */
export const WorkloadMetric = {
  RequestCount: 'REQUEST_COUNT',
  RequestDuration: 'REQUEST_DURATION',
  RequestSize: 'REQUEST_SIZE',
  ResponseSize: 'RESPONSE_SIZE',
  TcpOpened: 'TCP_OPENED_CONNECTIONS',
  TcpClosed: 'TCP_CLOSED_CONNECTIONS',
  TcpSent: 'TCP_SENT_BYTES',
  TcpReceived: 'TCP_RECEIVED_BYTES',
} as const;
export type WorkloadMetric = (typeof WorkloadMetric)[keyof typeof WorkloadMetric];
export const ALL_WORKLOAD_METRICS: readonly WorkloadMetric[] = Object.values(WorkloadMetric);

/**
 * Label edits Telemetry `tagOverrides` make on one metric, by label: a CEL expression over
 * the request's attributes whose value the label takes (added if it is not a standard one),
 * or `null`: the label is removed.
 */
export type TagEdits = Readonly<Record<string, string | null>>;

/** How one direction of a workload's sidecar reports Istio's metrics. */
export interface DirectionMetrics {
  /** The metrics it does not emit. */
  readonly disabled: readonly WorkloadMetric[];
  /** Per metric, its label edits; absent: Istio's labels. */
  readonly tags?: Readonly<Partial<Record<WorkloadMetric, TagEdits>>>;
}

/** Per direction. */
export interface MetricsSettings {
  readonly client: DirectionMetrics;
  readonly server: DirectionMetrics;
}

export interface TelemetryPolicies {
  accessLoggingFor(workload: PolicyWorkload): AccessLogging;
  tracingFor(workload: PolicyWorkload): Tracing;
  /** Absent: every metric is emitted, with Istio's labels. */
  metricsFor?(workload: PolicyWorkload): MetricsSettings;
}

/**
 * Istio's canonical name of a workload, the `*_workload` label of its metrics: its label for
 * it, `app.kubernetes.io/name`, `app`, else the pod's name; `unknown` without any.
 */
export function canonicalWorkloadName(labels: Readonly<Record<string, string>>, podName: string | undefined): string {
  return labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels['app'] ?? (podName || 'unknown');
}
