/**
 * Telemetry resources compiled: which access-log providers each workload writes to. The most
 * specific Telemetry with `accessLogging` decides — one selecting the workload, then its
 * namespace's, then the mesh-wide one (in the root namespace), then the config's default
 * providers; several at one level are ordered by name, the first applies and the others are
 * reported. Within the one that decides, entries add their providers (the defaults when they
 * name none) to the directions their `match.mode` names, and `disabled: true` removes them.
 * Tracing and metrics are not applied yet: objects that set them are reported so.
 */
import type { AccessLogging, PolicyWorkload, TelemetryPolicies } from '@meridian/model';
import { ProblemSeverity, type CompileProblem } from '../compile/problems.ts';
import type { PolicyObjectOf } from '../policy-object.ts';

type Telemetry = PolicyObjectOf<'Telemetry'>;

export interface TelemetryOptions {
  readonly rootNamespace: string;
  /** Providers the config defines (`telemetry.providers`). */
  readonly providers: readonly string[];
  /** The config's default access-log providers (`telemetry.accessLogging`). */
  readonly defaultAccessLogging: readonly string[];
}

export function compileTelemetry(objects: readonly Telemetry[], options: TelemetryOptions): { readonly telemetry: TelemetryPolicies; readonly problems: CompileProblem[] } {
  const problems: CompileProblem[] = [];
  const known = new Set(options.providers);
  const usable: Telemetry[] = [];
  for (const t of [...objects].sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1))) {
    const ref = { kind: t.kind, namespace: t.namespace, name: t.name };
    if (t.spec.targetRef || t.spec.targetRefs) {
      problems.push({ ref, path: t.spec.targetRef ? 'spec.targetRef' : 'spec.targetRefs', message: 'targetRefs are not supported yet; use a selector. The resource is not applied', severity: ProblemSeverity.Error });
      continue;
    }
    if (t.spec.tracing) problems.push({ ref, path: 'spec.tracing', message: 'tracing is not configured on proxies yet', severity: ProblemSeverity.Part });
    if (t.spec.metrics) problems.push({ ref, path: 'spec.metrics', message: 'metrics are not configured on proxies yet', severity: ProblemSeverity.Part });
    (t.spec.accessLogging ?? []).forEach((a, i) => {
      if (a.filter) problems.push({ ref, path: `spec.accessLogging[${i}].filter`, message: 'filter expressions are not applied yet: every request is logged', severity: ProblemSeverity.Part });
      (a.providers ?? []).forEach((p, j) => {
        if (!known.has(p.name)) problems.push({ ref, path: `spec.accessLogging[${i}].providers[${j}]`, message: `no provider ${p.name} in Meridian's telemetry.providers: it is left out`, severity: ProblemSeverity.Part });
      });
    });
    usable.push(t);
  }
  const logging = usable.filter((t) => (t.spec.accessLogging ?? []).length > 0);
  const selects = (t: Telemetry) => Object.keys(t.spec.selector?.matchLabels ?? {}).length > 0;
  const levels = {
    mesh: logging.filter((t) => t.namespace === options.rootNamespace && !selects(t)),
    namespace: logging.filter((t) => t.namespace !== options.rootNamespace && !selects(t)),
    workload: logging.filter(selects),
  };
  const hidden = (list: readonly Telemetry[], scope: string) => {
    const [winner, ...rest] = list;
    for (const t of rest) problems.push({ ref: { kind: t.kind, namespace: t.namespace, name: t.name }, path: 'spec.accessLogging', message: `${scope} has several Telemetry resources with accessLogging; ${winner?.namespace}/${winner?.name} applies, this one does not`, severity: ProblemSeverity.Warning });
  };
  hidden(levels.mesh, 'the mesh');
  for (const ns of new Set(levels.namespace.map((t) => t.namespace))) hidden(levels.namespace.filter((t) => t.namespace === ns), `namespace ${ns}`);

  const defaults: AccessLogging = { client: [...options.defaultAccessLogging].sort(), server: [...options.defaultAccessLogging].sort() };
  const telemetry: TelemetryPolicies = {
    accessLoggingFor(workload: PolicyWorkload): AccessLogging {
      const decider =
        levels.workload.find((t) => t.namespace === workload.namespace && Object.entries(t.spec.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v)) ??
        levels.namespace.find((t) => t.namespace === workload.namespace) ??
        levels.mesh[0];
      if (!decider) return defaults;
      const client = new Set<string>();
      const server = new Set<string>();
      for (const entry of decider.spec.accessLogging ?? []) {
        const named = entry.providers?.length ? entry.providers.map((p) => p.name).filter((n) => known.has(n)) : options.defaultAccessLogging;
        const mode = entry.match?.mode ?? 'CLIENT_AND_SERVER';
        for (const [set, applies] of [[client, mode !== 'SERVER'], [server, mode !== 'CLIENT']] as const) {
          if (!applies) continue;
          for (const n of named) {
            if (entry.disabled) set.delete(n);
            else set.add(n);
          }
        }
      }
      return { client: [...client].sort(), server: [...server].sort() };
    },
  };
  return { telemetry, problems };
}
