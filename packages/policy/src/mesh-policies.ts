/**
 * All policy objects in effect compiled at once into `MeshPolicies`, with one report row per
 * object and source cluster: Accepted, PartiallyApplied (per client kind, what it cannot
 * honour), NotApplied (compiled to nothing, with why), Rejected or Conflicted.
 */
import type { MeshPolicies, PeerMtlsMode } from '@meridian/model';
import { compileAuthorization } from './authz/compile-authorization.ts';
import { compilePeerAuthentications } from './authz/peer-authentication.ts';
import { compileRequestAuthentication } from './authz/compile-request-authentication.ts';
import { compileTelemetry } from './telemetry/compile-telemetry.ts';
import { securityLimits } from './authz/security-limits.ts';
import { ProblemSeverity, type CompileProblem } from './compile/problems.ts';
import { compileServiceEntries } from './compile/service-entries.ts';
import { compileTraffic, type ObjectLimits, type RouteOverlap } from './compile/traffic-policies.ts';
import { refKey, type PolicyObject, type PolicyObjectOf, type PolicyRef } from './policy-object.ts';
import { PolicyState, type PolicyStatus } from './policy-store.ts';

export interface MeshPolicyOptions {
  readonly domainSuffix: string;
  /** Meridian's namespace: policies there apply mesh-wide. */
  readonly rootNamespace: string;
  /** The mTLS mode when no PeerAuthentication decides (config `mtls.mode`). */
  readonly defaultMtlsMode: PeerMtlsMode;
  /** Access-log providers the config defines (`telemetry.providers`); none by default. */
  readonly telemetryProviders?: readonly string[];
  /** Where every workload logs when no Telemetry says otherwise (`telemetry.accessLogging`). */
  readonly defaultAccessLogging?: readonly string[];
  /** Tracing providers the config defines. */
  readonly tracingProviders?: readonly string[];
  /** How every workload is traced when no Telemetry says otherwise (`telemetry.tracing`). */
  readonly defaultTracing?: { readonly provider?: string; readonly samplingPercent: number };
}

export interface CompiledMeshPolicies {
  readonly policies: MeshPolicies;
  readonly problems: readonly CompileProblem[];
  readonly overlaps: readonly RouteOverlap[];
  readonly limits: readonly ObjectLimits[];
}


export function compileMeshPolicies(objects: readonly PolicyObject[], options: MeshPolicyOptions): CompiledMeshPolicies {
  const traffic = compileTraffic(objects, { domainSuffix: options.domainSuffix, rootNamespace: options.rootNamespace });
  const authz = compileAuthorization(objects.filter((o): o is PolicyObjectOf<'AuthorizationPolicy'> => o.kind === 'AuthorizationPolicy'), { rootNamespace: options.rootNamespace });
  const peer = compilePeerAuthentications(objects.filter((o): o is PolicyObjectOf<'PeerAuthentication'> => o.kind === 'PeerAuthentication'), { rootNamespace: options.rootNamespace, defaultMode: options.defaultMtlsMode });
  const requestAuthn = compileRequestAuthentication(objects.filter((o): o is PolicyObjectOf<'RequestAuthentication'> => o.kind === 'RequestAuthentication'), { rootNamespace: options.rootNamespace });
  const telemetry = compileTelemetry(objects.filter((o): o is PolicyObjectOf<'Telemetry'> => o.kind === 'Telemetry'), {
    rootNamespace: options.rootNamespace,
    providers: options.telemetryProviders ?? [],
    defaultAccessLogging: options.defaultAccessLogging ?? [],
    tracingProviders: options.tracingProviders ?? [],
    ...(options.defaultTracing ? { defaultTracing: options.defaultTracing } : {}),
  });
  const entries = compileServiceEntries(objects.filter((o): o is PolicyObjectOf<'ServiceEntry'> => o.kind === 'ServiceEntry'), { domainSuffix: options.domainSuffix });
  const security = securityLimits(objects);
  return {
    policies: { traffic: traffic.policies, peerAuthentications: peer.peerAuthentications, authorization: authz.policies, requestAuthentication: requestAuthn.policies, telemetry: telemetry.telemetry, serviceEntries: entries.entries },
    problems: [...traffic.problems, ...authz.problems, ...peer.problems, ...requestAuthn.problems, ...telemetry.problems, ...entries.problems],
    overlaps: traffic.overlaps,
    limits: [...traffic.limits, ...security, ...telemetry.limits, ...entries.limits],
  };
}

export const ReportState = {
  ...PolicyState,
  /** In effect, but some client kinds honour only part of it (see `clients`). */
  PartiallyApplied: 'PartiallyApplied',
  /** Valid, but compiled to nothing (not supported, or hidden by another object). */
  NotApplied: 'NotApplied',
} as const;
export type ReportState = (typeof ReportState)[keyof typeof ReportState];

export interface PolicyReportRow {
  readonly ref: PolicyRef | undefined;
  readonly cluster: string;
  readonly origin: string;
  readonly state: ReportState;
  readonly messages: readonly string[];
  readonly clients: Readonly<Record<string, { readonly omit: readonly string[]; readonly ignored: readonly string[] }>>;
}

/** One row per object per source cluster, from the store's statuses and the compiler's findings. */
export function policyReport(statuses: readonly PolicyStatus[], compiled: CompiledMeshPolicies): PolicyReportRow[] {
  const problems = groupBy(compiled.problems, (p) => refKey(p.ref));
  const limits = groupBy(compiled.limits, (l) => refKey(l.ref));
  const hiddenBy = new Map<string, string[]>();
  for (const o of compiled.overlaps) {
    for (const h of o.hidden) {
      const callers = o.callers === '*' ? 'callers in other namespaces' : `callers in ${o.callers}`;
      hiddenBy.set(refKey(h), [...(hiddenBy.get(refKey(h)) ?? []), `hidden for ${callers} of ${o.host} by ${o.winner.kind} ${o.winner.namespace}/${o.winner.name}`]);
    }
  }
  return statuses.map((s): PolicyReportRow => {
    const base = { ref: s.ref, cluster: s.cluster, origin: s.origin, clients: {} };
    if (s.state !== PolicyState.Accepted || !s.ref) return { ...base, state: s.state, messages: s.errors };
    const key = refKey(s.ref);
    const own = problems.get(key) ?? [];
    const refused = own.some((p) => p.severity === ProblemSeverity.Error);
    const partly = own.some((p) => p.severity === ProblemSeverity.Part);
    const messages = [...own.map((p) => `${p.path}: ${p.message}`), ...(hiddenBy.get(key) ?? [])];
    const clients = Object.fromEntries((limits.get(key) ?? []).map((l) => [l.client, { omit: l.omit, ignored: l.ignored }]));
    // Hidden by another object for some callers counts as not applied: its author must look.
    const notApplied = refused || (hiddenBy.get(key)?.length ?? 0) > 0;
    const state = notApplied ? ReportState.NotApplied : partly || Object.keys(clients).length ? ReportState.PartiallyApplied : ReportState.Accepted;
    return { ...base, state, messages, clients };
  });
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}
