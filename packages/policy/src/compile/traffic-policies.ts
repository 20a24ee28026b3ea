/**
 * Every traffic policy object compiled into one `TrafficPolicies`: for each caller and host,
 * which routes and which DestinationRule apply.
 *
 * Which route object applies when several name one host, for a caller in namespace N and a
 * host of a Service in namespace S (upstream leaves parts of this open; this is the rule):
 *   1. objects in N (the caller's own, "consumer" routes), then in S ("producer"), then others;
 *   2. an exact host before a wildcard, the longer wildcard first; a port-specific route
 *      (a Gateway API parentRef with a port) before one for every port;
 *   3. a VirtualService before Gateway API routes; then by namespace and name.
 * The first VirtualService wins alone and every other one it hides is reported. Gateway API
 * routes of the same rank are merged rule by rule, ordered by match precedence as that
 * specification says. DestinationRules follow steps 1–2.
 */
import type { ClientKind, ClientLimits, ClusterPolicy, DestinationPolicy, EgressScope, HostRoutes, HttpRouteRule, PolicyCaller, TrafficPolicies } from '@meridian/model';
import type { PolicyObject, PolicyObjectOf, PolicyRef } from '../policy-object.ts';
import { compileDestinationRule } from './destination-rule.ts';
import { compileServiceRoute } from './gateway-api-routes.ts';
import { SidecarScopes } from './sidecar-scope.ts';
import { serviceNamespaceOf, visibleTo } from './hosts.ts';
import { ProblemSeverity, type CompileProblem } from './problems.ts';
import { compileVirtualService, type CompileContext } from './virtual-service-routes.ts';

export interface TrafficCompileOptions {
  readonly domainSuffix: string;
  /** Where the mesh-wide default Sidecar lives. */
  readonly rootNamespace?: string;
}

/** Route objects that name the same host where only one applies. */
export interface RouteOverlap {
  readonly host: string;
  readonly port?: number;
  /** The callers this holds for: a namespace, or `*` for callers in any other namespace. */
  readonly callers: string;
  readonly winner: PolicyRef;
  readonly hidden: readonly PolicyRef[];
}

export interface CompiledTraffic {
  readonly policies: TrafficPolicies;
  readonly problems: readonly CompileProblem[];
  readonly overlaps: readonly RouteOverlap[];
  /** Per object and client kind, what that client cannot honour (field paths with reasons). */
  readonly limits: readonly ObjectLimits[];
}

export interface ObjectLimits {
  readonly ref: PolicyRef;
  readonly client: ClientKind;
  readonly omit: readonly string[];
  readonly ignored: readonly string[];
}

interface RouteEntry {
  readonly pattern: string;
  readonly port: number | undefined;
  readonly ref: PolicyRef;
  readonly visible: (caller: string) => boolean;
  readonly gatewayApi: boolean;
  readonly http: readonly HttpRouteRule[];
  readonly tls: HostRoutes['tls'];
  readonly tcp: HostRoutes['tcp'];
}

interface DestinationEntry {
  readonly pattern: string;
  readonly ref: PolicyRef;
  readonly visible: (caller: string) => boolean;
  readonly policy: DestinationPolicy;
}

export function compileTraffic(objects: readonly PolicyObject[], options: TrafficCompileOptions): CompiledTraffic {
  const problems: CompileProblem[] = [];
  const ctx: CompileContext = { domainSuffix: options.domainSuffix, problems };
  const routes: RouteEntry[] = [];
  const destinations: DestinationEntry[] = [];
  const sidecars: Array<PolicyObjectOf<'Sidecar'>> = [];

  for (const object of objects) {
    const ref = { kind: object.kind, namespace: object.namespace, name: object.name };
    if (object.kind === 'VirtualService') {
      const vs = memoized(object, ctx, compileVirtualService);
      if (!vs?.forMesh) continue;
      const visible = (caller: string) => visibleTo(object.spec.exportTo, object.namespace, caller);
      for (const pattern of vs.hosts) routes.push({ pattern, port: undefined, ref, visible, gatewayApi: false, http: vs.http, tls: vs.tls, tcp: vs.tcp });
    } else if (object.kind === 'HTTPRoute' || object.kind === 'GRPCRoute') {
      for (const parent of memoized(object, ctx, compileServiceRoute)) {
        const producer = parent.serviceNamespace === object.namespace;
        const visible = producer ? () => true : (caller: string) => caller === object.namespace;
        routes.push({ pattern: parent.host, port: parent.port, ref, visible, gatewayApi: true, http: parent.rules, tls: [], tcp: [] });
      }
    } else if (object.kind === 'Sidecar') {
      sidecars.push(object);
    } else if (object.kind === 'DestinationRule') {
      if (object.spec.workloadSelector) {
        problems.push({ ref, path: 'spec.workloadSelector', message: 'DestinationRules for selected client workloads are not supported; the object is not applied', severity: ProblemSeverity.Error });
        continue;
      }
      const policy = memoized(object, ctx, (dr, c) => compileDestinationRule(dr, c.domainSuffix));
      destinations.push({ pattern: policy.host, ref, visible: (caller) => visibleTo(object.spec.exportTo, object.namespace, caller), policy });
    }
  }

  const scopes = new SidecarScopes(sidecars, options.rootNamespace ?? 'istio-system', problems);
  const index = new TrafficIndex(routes, destinations, options.domainSuffix, scopes);
  problems.push(...undefinedSubsets(routes, destinations));
  return { policies: index, problems, overlaps: index.overlaps(), limits: collectLimits(routes, destinations) };
}

/**
 * Each object's own compilation, kept as long as the object: the store hands the same
 * (immutable) object until it changes, so a change to one of 2k objects compiles one.
 */
const perObject = new WeakMap<object, { readonly domainSuffix: string; readonly value: unknown; readonly problems: readonly CompileProblem[] }>();

function memoized<O extends object, T>(object: O, ctx: CompileContext, compile: (object: O, ctx: CompileContext) => T): T {
  const hit = perObject.get(object);
  if (hit?.domainSuffix === ctx.domainSuffix) {
    ctx.problems.push(...hit.problems);
    return hit.value as T;
  }
  const problems: CompileProblem[] = [];
  const value = compile(object, { domainSuffix: ctx.domainSuffix, problems });
  perObject.set(object, { domainSuffix: ctx.domainSuffix, value, problems });
  ctx.problems.push(...problems);
  return value;
}

class TrafficIndex implements TrafficPolicies {
  private readonly routeCache = new Map<string, HostRoutes | undefined>();
  private readonly destinationCache = new Map<string, DestinationPolicy | undefined>();

  private readonly routes: readonly RouteEntry[];
  private readonly routesByPattern: PatternIndex<RouteEntry>;
  private readonly destinationsByPattern: PatternIndex<DestinationEntry>;
  private readonly domainSuffix: string;
  readonly usesSourceLabels: boolean;

  private readonly scopes: SidecarScopes;

  constructor(routes: readonly RouteEntry[], destinations: readonly DestinationEntry[], domainSuffix: string, scopes: SidecarScopes) {
    this.scopes = scopes;
    this.usesSourceLabels = routes.some((r) => r.http.some((rule) => rule.matches.some((m) => m.sourceLabels !== undefined)));
    this.routes = routes;
    this.routesByPattern = new PatternIndex(routes);
    this.destinationsByPattern = new PatternIndex(destinations);
    this.domainSuffix = domainSuffix;
  }

  egressFor(workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }): EgressScope | undefined {
    return this.scopes.egressFor(workload);
  }

  routesFor(host: string, port: number, caller: PolicyCaller): HostRoutes | undefined {
    const key = `${host}|${port}|${caller.namespace}`;
    if (!this.routeCache.has(key)) this.routeCache.set(key, this.resolveRoutes(host, port, caller.namespace));
    return this.routeCache.get(key);
  }

  destinationFor(host: string, caller: PolicyCaller): DestinationPolicy | undefined {
    const key = `${host}|${caller.namespace}`;
    if (!this.destinationCache.has(key)) {
      const [first] = this.ranked(this.destinationsByPattern.matching(host).filter((d) => d.visible(caller.namespace)), host, caller.namespace);
      this.destinationCache.set(key, first?.policy);
    }
    return this.destinationCache.get(key);
  }

  /** Where one route object hides another, per host and caller namespace. */
  overlaps(): RouteOverlap[] {
    const out = new Map<string, RouteOverlap>();
    const exactHosts = new Set(this.routes.filter((r) => !r.pattern.includes('*')).map((r) => `${r.pattern}|${r.port ?? ''}`));
    const namespaces = new Set(['*', ...this.routes.map((r) => r.ref.namespace)]);
    for (const key of exactHosts) {
      const [host = '', portText] = key.split('|');
      const port = portText ? Number(portText) : undefined;
      for (const caller of namespaces) {
        const ranked = this.candidates(host, port, caller);
        const [winner, ...rest] = ranked;
        if (!winner) continue;
        const hidden = winner.gatewayApi ? rest.filter((r) => !r.gatewayApi) : rest;
        if (hidden.length === 0) continue;
        const overlap: RouteOverlap = { host, ...(port !== undefined ? { port } : {}), callers: caller, winner: winner.ref, hidden: dedupe(hidden.map((h) => h.ref)) };
        out.set(`${key}|${caller}`, overlap);
      }
    }
    return [...out.values()];
  }

  private resolveRoutes(host: string, port: number, caller: string): HostRoutes | undefined {
    const [winner, ...rest] = this.candidates(host, port, caller);
    if (!winner) return undefined;
    if (!winner.gatewayApi) return { host, rules: winner.http, tls: winner.tls, tcp: winner.tcp, source: { ...winner.ref, path: 'spec' } };
    // Gateway API: every route of the winner's rank for this host is merged.
    const rank = this.rankOf(winner, host, caller);
    const merged = [winner, ...rest.filter((r) => r.gatewayApi && this.rankOf(r, host, caller) === rank)];
    const rules = sortByMatchPrecedence(merged.flatMap((r) => r.http));
    return { host, ...(winner.port !== undefined ? { port: winner.port } : {}), rules, tls: [], tcp: [], source: { ...winner.ref, path: 'spec' } };
  }

  private candidates(host: string, port: number | undefined, caller: string): RouteEntry[] {
    const fits = this.routesByPattern.matching(host).filter((r) => r.visible(caller) && (r.port === undefined || r.port === port));
    return this.ranked(fits, host, caller);
  }

  private rankOf(entry: { pattern: string; ref: PolicyRef; port?: number | undefined }, host: string, caller: string): string {
    const serviceNamespace = serviceNamespaceOf(host, this.domainSuffix);
    const tier = entry.ref.namespace === caller ? 0 : entry.ref.namespace === serviceNamespace ? 1 : 2;
    const specificity = entry.pattern.includes('*') ? 1_000 - entry.pattern.length : 0;
    return `${tier}|${String(specificity).padStart(4, '0')}|${entry.port === undefined ? 1 : 0}`;
  }

  private ranked<T extends { pattern: string; ref: PolicyRef; port?: number | undefined }>(entries: readonly T[], host: string, caller: string): T[] {
    const kindOrder = (ref: PolicyRef) => (ref.kind === 'VirtualService' || ref.kind === 'DestinationRule' ? 0 : 1);
    return [...entries].sort(
      (a, b) =>
        compare(this.rankOf(a, host, caller), this.rankOf(b, host, caller)) ||
        kindOrder(a.ref) - kindOrder(b.ref) ||
        compare(a.ref.namespace, b.ref.namespace) ||
        compare(a.ref.name, b.ref.name),
    );
  }
}

/**
 * Entries by host pattern: exact hosts in a map, wildcards in a list, so finding what names a
 * host costs the wildcards, not every object (a mesh has a VirtualService per service).
 */
class PatternIndex<T extends { readonly pattern: string }> {
  private readonly exact = new Map<string, T[]>();
  private readonly wildcards: T[] = [];

  constructor(entries: readonly T[]) {
    for (const e of entries) {
      if (e.pattern.startsWith('*')) this.wildcards.push(e);
      else this.exact.set(e.pattern, [...(this.exact.get(e.pattern) ?? []), e]);
    }
  }

  matching(host: string): T[] {
    const wild = this.wildcards.filter((e) => matches(e.pattern, host));
    const exact = this.exact.get(host) ?? [];
    return wild.length === 0 ? exact : [...exact, ...wild];
  }
}

function matches(pattern: string, host: string): boolean {
  return pattern === host || (pattern.startsWith('*') && host.endsWith(pattern.slice(1)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dedupe(refs: readonly PolicyRef[]): PolicyRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = `${r.kind}/${r.namespace}/${r.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The Gateway API's order among merged rules, applied per match: an exact path, then the
 * longest path prefix, then a method, then the most headers, then the most query
 * parameters; ties keep the routes' order. A rule with several matches becomes one rule per
 * match, so each match takes its own place.
 */
function sortByMatchPrecedence(rules: readonly HttpRouteRule[]): HttpRouteRule[] {
  const single = rules.flatMap((r) => (r.matches.length <= 1 ? [r] : r.matches.map((m) => ({ ...r, matches: [m] }))));
  const score = (r: HttpRouteRule): number[] => {
    const m = r.matches[0];
    if (!m) return [0, 0, 0, 0, 0];
    const uri = m.uri;
    const exact = uri && 'exact' in uri ? 1 : 0;
    const prefix = uri && 'pathPrefix' in uri ? uri.pathPrefix.length : uri && 'prefix' in uri ? uri.prefix.length : 0;
    return [exact, prefix, m.method ? 1 : 0, m.headers.length, m.queryParams.length];
  };
  return single
    .map((rule, i) => ({ rule, i, s: score(rule) }))
    .sort((a, b) => {
      for (let k = 0; k < a.s.length; k++) if ((a.s[k] ?? 0) !== (b.s[k] ?? 0)) return (b.s[k] ?? 0) - (a.s[k] ?? 0);
      return a.i - b.i;
    })
    .map((x) => x.rule);
}

/** Routes to a subset no DestinationRule for that host defines: requests to it would fail. */
function undefinedSubsets(routes: readonly RouteEntry[], destinations: readonly DestinationEntry[]): CompileProblem[] {
  const defined = new Set(destinations.flatMap((d) => [...d.policy.subsets.keys()].map((s) => `${d.pattern}|${s}`)));
  const wildcards = destinations.filter((d) => d.pattern.startsWith('*'));
  const out = new Map<string, CompileProblem>();
  for (const route of routes) {
    for (const rule of route.http) {
      const targets = [...(rule.action.type === 'forward' ? rule.action.targets : []), ...rule.mirrors.map((m) => m.target)];
      for (const t of targets) {
        if (t.subset === undefined) continue;
        const wildcardDefines = wildcards.some((d) => matches(d.pattern, t.host) && d.policy.subsets.has(t.subset ?? ''));
        if (defined.has(`${t.host}|${t.subset}`) || wildcardDefines) continue;
        const message = `subset ${t.subset} of ${t.host} is defined by no DestinationRule: requests routed to it fail`;
        out.set(`${rule.source.path}|${message}`, { ref: route.ref, path: rule.source.path, message, severity: ProblemSeverity.Warning });
      }
    }
  }
  return [...out.values()];
}

/** Every rule's and policy's client limits, gathered per object with the paths they are at. */
function collectLimits(routes: readonly RouteEntry[], destinations: readonly DestinationEntry[]): ObjectLimits[] {
  const byObject = new Map<string, { ref: PolicyRef; client: ClientKind; omit: Set<string>; ignored: Set<string> }>();
  const add = (ref: PolicyRef, at: string, limits: Readonly<Partial<Record<ClientKind, ClientLimits>>>) => {
    for (const [client, l] of Object.entries(limits) as Array<[ClientKind, ClientLimits]>) {
      const key = `${ref.kind}/${ref.namespace}/${ref.name}|${client}`;
      let entry = byObject.get(key);
      if (!entry) byObject.set(key, (entry = { ref, client, omit: new Set(), ignored: new Set() }));
      for (const o of l.omit) entry.omit.add(`${at}.${o}`);
      for (const i of l.ignored) entry.ignored.add(`${at}.${i}`);
    }
  };
  for (const route of routes) for (const rule of route.http) add(route.ref, rule.source.path, rule.limits);
  const policyLimits = (ref: PolicyRef, at: string, p: ClusterPolicy) => add(ref, at, p.limits);
  for (const d of destinations) {
    policyLimits(d.ref, 'spec.trafficPolicy', d.policy.policy);
    for (const [port, p] of d.policy.portPolicies) policyLimits(d.ref, `spec.trafficPolicy.portLevelSettings[port ${port}]`, p);
    // A subset inherits the rule's policy: only what its own settings change is listed again.
    const inherited = JSON.stringify(d.policy.policy.limits);
    for (const [name, subset] of d.policy.subsets) {
      if (JSON.stringify(subset.policy.limits) !== inherited) policyLimits(d.ref, `spec.subsets[${name}].trafficPolicy`, subset.policy);
    }
  }
  return [...byObject.values()].map((e) => ({ ref: e.ref, client: e.client, omit: [...e.omit], ignored: [...e.ignored] }));
}
