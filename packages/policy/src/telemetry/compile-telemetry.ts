/**
 * Telemetry resources compiled: which access-log providers each workload writes to. The most
 * specific Telemetry with `accessLogging` decides — one selecting the workload, then its
 * namespace's, then the mesh-wide one (in the root namespace), then the config's default
 * providers; several at one level are ordered by name, the first applies and the others are
 * reported. Within the one that decides, entries add their providers (the defaults when they
 * name none) to the directions their `match.mode` names, and `disabled: true` removes them.
 * Tracing is resolved the same way: the closest Telemetry with `tracing` decides, its first
 * entry for a direction gives the provider (its first; Envoy takes one tracer), sampling and
 * custom tags; `disableSpanReporting` turns that direction off. Metrics likewise: the closest
 * Telemetry with `metrics` decides which of Istio's standard metrics each direction leaves out
 * (`overrides[].disabled` per metric or ALL_METRICS, in order) and how their labels are edited
 * (`overrides[].tagOverrides`, in order: the last edit of a label holds); every metric is on
 * by default, with Istio's labels.
 */
import { ALL_WORKLOAD_METRICS, ClientKind, type WorkloadMetric, type AccessLogging, type CustomTag, type DirectionMetrics, type MetricsSettings, type PolicyWorkload, type TelemetryPolicies, type Tracing, type TracingSettings } from '@meridian/model';
import type { ObjectLimits } from '../compile/traffic-policies.ts';
import { ProblemSeverity, type CompileProblem } from '../compile/problems.ts';
import type { PolicyObjectOf } from '../policy-object.ts';

type Telemetry = PolicyObjectOf<'Telemetry'>;

/** The metrics provider sidecars serve: Envoy's stats, which Prometheus scrapes (Istio's default provider's name). */
const PROMETHEUS = 'prometheus';

/** Istio's standard metrics, as Telemetry names them. */
const STANDARD_METRICS: readonly string[] = ALL_WORKLOAD_METRICS;

/** Prometheus's label names, which Envoy's exporter would otherwise rewrite. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why a `tagOverrides` entry cannot be applied, or undefined (its CEL is checked by the schema). */
function tagOverrideProblem(tag: string, edit: { readonly operation?: 'UPSERT' | 'REMOVE' | undefined; readonly value?: string | undefined }): string | undefined {
  if (!LABEL_NAME.test(tag)) return `${tag} is not a Prometheus label name`;
  if (edit.operation !== 'REMOVE' && edit.value === undefined) return 'UPSERT needs a value';
  // The expression goes inside Envoy's %CEL(...)%, which ends at the first `)%`.
  if (edit.value?.includes(')%')) return 'the value may not contain ")%"';
  return undefined;
}

export interface TelemetryOptions {
  readonly rootNamespace: string;
  /** Access-log providers the config defines (`telemetry.providers`). */
  readonly providers: readonly string[];
  /** The config's default access-log providers (`telemetry.accessLogging`). */
  readonly defaultAccessLogging: readonly string[];
  /** Tracing providers the config defines. */
  readonly tracingProviders?: readonly string[];
  /** The config's default tracing (`telemetry.tracing`). */
  readonly defaultTracing?: { readonly provider?: string; readonly samplingPercent: number };
}

/** The per-direction sets a Telemetry `match.mode` names (both when unset). */
function sidesOf<T>(mode: 'CLIENT' | 'SERVER' | 'CLIENT_AND_SERVER' | undefined, client: T, server: T): T[] {
  return mode === 'CLIENT' ? [client] : mode === 'SERVER' ? [server] : [client, server];
}

export function compileTelemetry(
  objects: readonly Telemetry[],
  options: TelemetryOptions,
): { readonly telemetry: TelemetryPolicies; readonly problems: CompileProblem[]; readonly limits: ObjectLimits[] } {
  const problems: CompileProblem[] = [];
  const limits: ObjectLimits[] = [];
  const known = new Set(options.providers);
  const tracers = new Set(options.tracingProviders ?? []);
  const usable: Telemetry[] = [];
  for (const t of [...objects].sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1))) {
    const ref = { kind: t.kind, namespace: t.namespace, name: t.name };
    if (t.spec.targetRef || t.spec.targetRefs) {
      problems.push({ ref, path: t.spec.targetRef ? 'spec.targetRef' : 'spec.targetRefs', message: 'targetRefs are not supported yet; use a selector. The resource is not applied', severity: ProblemSeverity.Error });
      continue;
    }
    (t.spec.tracing ?? []).forEach((tr, i) => {
      (tr.providers ?? []).forEach((p, j) => {
        if (!tracers.has(p.name)) problems.push({ ref, path: `spec.tracing[${i}].providers[${j}]`, message: `no opentelemetry provider ${p.name} in Meridian's telemetry.providers: it is left out`, severity: ProblemSeverity.Part });
        else if (j > 0) problems.push({ ref, path: `spec.tracing[${i}].providers[${j}]`, message: 'a proxy reports to one tracing provider: only the first applies', severity: ProblemSeverity.Part });
      });
    });
    (t.spec.metrics ?? []).forEach((m, i) => {
      (m.providers ?? []).forEach((p, j) => {
        if (p.name !== PROMETHEUS) problems.push({ ref, path: `spec.metrics[${i}].providers[${j}]`, message: `sidecars serve their metrics to Prometheus only (provider ${PROMETHEUS}); ${p.name} is left out`, severity: ProblemSeverity.Part });
      });
      if (m.reportingInterval) problems.push({ ref, path: `spec.metrics[${i}].reportingInterval`, message: 'not applied: Prometheus scrapes when it will', severity: ProblemSeverity.Part });
      (m.overrides ?? []).forEach((o, j) => {
        for (const [tag, edit] of Object.entries(o.tagOverrides ?? {})) {
          const problem = tagOverrideProblem(tag, edit);
          if (problem) problems.push({ ref, path: `spec.metrics[${i}].overrides[${j}].tagOverrides.${tag}`, message: `${problem}: this tag edit is left out`, severity: ProblemSeverity.Part });
        }
        if (o.match?.customMetric) problems.push({ ref, path: `spec.metrics[${i}].overrides[${j}].match.customMetric`, message: 'custom metrics are not supported: the override is left out', severity: ProblemSeverity.Part });
        else if (o.match?.metric && !STANDARD_METRICS.includes(o.match.metric) && o.match.metric !== 'ALL_METRICS') problems.push({ ref, path: `spec.metrics[${i}].overrides[${j}].match.metric`, message: `${o.match.metric} is not one of Istio's standard metrics: the override is left out`, severity: ProblemSeverity.Part });
      });
    });
    (t.spec.accessLogging ?? []).forEach((a, i) => {
      (a.providers ?? []).forEach((p, j) => {
        if (!known.has(p.name)) problems.push({ ref, path: `spec.accessLogging[${i}].providers[${j}]`, message: `no provider ${p.name} in Meridian's telemetry.providers: it is left out`, severity: ProblemSeverity.Part });
      });
    });
    // grpc-js-xds has neither access logs nor tracing: proxyless clients and servers get none.
    const proxyless = [
      ...(t.spec.accessLogging?.length ? ['spec.accessLogging (proxyless gRPC has no access logs)'] : []),
      ...(t.spec.tracing?.length ? ['spec.tracing (proxyless gRPC is not traced)'] : []),
      ...(t.spec.metrics?.length ? ["spec.metrics (proxyless gRPC reports none of Istio's metrics)"] : []),
    ];
    if (proxyless.length) limits.push({ ref, client: ClientKind.Grpc, omit: proxyless, ignored: [] });
    usable.push(t);
  }
  const selects = (t: Telemetry) => Object.keys(t.spec.selector?.matchLabels ?? {}).length > 0;
  /** The resources that set `field`, by level, each level's hidden ones reported. */
  const levelsOf = (field: 'accessLogging' | 'tracing' | 'metrics') => {
    const setting = usable.filter((t) => (t.spec[field] ?? []).length > 0);
    const levels = {
      mesh: setting.filter((t) => t.namespace === options.rootNamespace && !selects(t)),
      namespace: setting.filter((t) => t.namespace !== options.rootNamespace && !selects(t)),
      workload: setting.filter(selects),
    };
    const hidden = (list: readonly Telemetry[], scope: string) => {
      const [winner, ...rest] = list;
      for (const t of rest) problems.push({ ref: { kind: t.kind, namespace: t.namespace, name: t.name }, path: `spec.${field}`, message: `${scope} has several Telemetry resources with ${field}; ${winner?.namespace}/${winner?.name} applies, this one does not`, severity: ProblemSeverity.Warning });
    };
    hidden(levels.mesh, 'the mesh');
    for (const ns of new Set(levels.namespace.map((t) => t.namespace))) hidden(levels.namespace.filter((t) => t.namespace === ns), `namespace ${ns}`);
    return (workload: PolicyWorkload): Telemetry | undefined =>
      levels.workload.find((t) => t.namespace === workload.namespace && Object.entries(t.spec.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v)) ??
      levels.namespace.find((t) => t.namespace === workload.namespace) ??
      levels.mesh[0];
  };
  const loggingDecider = levelsOf('accessLogging');
  const tracingDecider = levelsOf('tracing');
  const metricsDecider = levelsOf('metrics');

  const defaults: AccessLogging = { client: [...options.defaultAccessLogging].sort(), server: [...options.defaultAccessLogging].sort() };
  const telemetry: TelemetryPolicies = {
    metricsFor(workload: PolicyWorkload): MetricsSettings {
      const decider = metricsDecider(workload);
      const side = () => ({ disabled: new Set<WorkloadMetric>(), tags: new Map<WorkloadMetric, Record<string, string | null>>() });
      const client = side();
      const server = side();
      for (const entry of decider?.spec.metrics ?? []) {
        if (entry.providers?.length && !entry.providers.some((p) => p.name === PROMETHEUS)) continue;
        for (const o of entry.overrides ?? []) {
          if (o.match?.customMetric) continue;
          const metric = o.match?.metric ?? 'ALL_METRICS';
          const metrics = metric === 'ALL_METRICS' ? ALL_WORKLOAD_METRICS : ALL_WORKLOAD_METRICS.filter((m) => m === metric);
          const edits = Object.entries(o.tagOverrides ?? {}).filter(([tag, edit]) => !tagOverrideProblem(tag, edit));
          for (const s of sidesOf(o.match?.mode, client, server)) {
            for (const m of metrics) {
              if (o.disabled) s.disabled.add(m);
              else if (o.disabled === false) s.disabled.delete(m);
              for (const [tag, edit] of edits) {
                const tags = s.tags.get(m) ?? {};
                tags[tag] = edit.operation === 'REMOVE' ? null : (edit.value ?? null);
                s.tags.set(m, tags);
              }
            }
          }
        }
      }
      const settings = (s: ReturnType<typeof side>): DirectionMetrics => ({ disabled: [...s.disabled].sort(), ...(s.tags.size ? { tags: Object.fromEntries([...s.tags].sort(([a], [b]) => (a < b ? -1 : 1))) } : {}) });
      return { client: settings(client), server: settings(server) };
    },
    accessLoggingFor(workload: PolicyWorkload): AccessLogging {
      const decider = loggingDecider(workload);
      if (!decider) return defaults;
      const client = new Set<string>();
      const server = new Set<string>();
      const filters = { client: {} as Record<string, string>, server: {} as Record<string, string> };
      for (const entry of decider.spec.accessLogging ?? []) {
        const named = entry.providers?.length ? entry.providers.map((p) => p.name).filter((n) => known.has(n)) : options.defaultAccessLogging;
        // The entry that adds a provider to a direction last says what it logs there.
        for (const [set, byProvider] of sidesOf(entry.match?.mode, [client, filters.client] as const, [server, filters.server] as const)) {
          for (const n of named) {
            if (entry.disabled) set.delete(n);
            else set.add(n);
            if (!entry.disabled && entry.filter?.expression) byProvider[n] = entry.filter.expression;
            else delete byProvider[n];
          }
        }
      }
      const used = {
        ...(Object.keys(filters.client).length ? { client: filters.client } : {}),
        ...(Object.keys(filters.server).length ? { server: filters.server } : {}),
      };
      return { client: [...client].sort(), server: [...server].sort(), ...(Object.keys(used).length ? { filters: used } : {}) };
    },
    tracingFor(workload: PolicyWorkload): Tracing {
      const decider = tracingDecider(workload);
      const fallback = options.defaultTracing;
      if (!decider) {
        if (!fallback?.provider) return {};
        const settings = { provider: fallback.provider, samplingPercent: fallback.samplingPercent, customTags: [] };
        return { client: settings, server: settings };
      }
      const direction = (mode: 'CLIENT' | 'SERVER'): TracingSettings | undefined => {
        const entry = (decider.spec.tracing ?? []).find((e) => (e.match?.mode ?? 'CLIENT_AND_SERVER') !== (mode === 'CLIENT' ? 'SERVER' : 'CLIENT'));
        if (!entry || entry.disableSpanReporting) return undefined;
        const provider = entry.providers?.length ? entry.providers.map((p) => p.name).find((n) => tracers.has(n)) : fallback?.provider;
        if (!provider) return undefined;
        const customTags = Object.entries(entry.customTags ?? {}).map(([tag, c]): CustomTag => ({
          tag,
          ...(c.literal ? { literal: c.literal.value } : {}),
          ...(c.header ? { header: c.header } : {}),
          ...(c.environment ? { environment: c.environment } : {}),
        }));
        return { provider, samplingPercent: entry.randomSamplingPercentage ?? fallback?.samplingPercent ?? 1, customTags };
      };
      const client = direction('CLIENT');
      const server = direction('SERVER');
      return { ...(client ? { client } : {}), ...(server ? { server } : {}) };
    },
  };
  return { telemetry, problems, limits };
}
