/**
 * Telemetry as generators consume it: which access-log providers a workload's sidecar
 * writes to, as a client (outbound) and as a server (inbound). The `policy` package builds it
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
}

export interface TelemetryPolicies {
  accessLoggingFor(workload: PolicyWorkload): AccessLogging;
}
