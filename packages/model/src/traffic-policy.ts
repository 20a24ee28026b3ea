/**
 * Traffic policy as generators consume it: what Istio's VirtualService and DestinationRule
 * and the Gateway API's HTTPRoute and GRPCRoute compile into. One model for both APIs, plain
 * immutable data; hosts are FQDNs and durations milliseconds. The `policy` package builds it,
 * `xds` reads it through `TrafficPolicies`.
 */

/** The kinds of xDS client a policy is compiled for; each honours a different part of it. */
export const ClientKind = {
  /** Envoy sidecars and gateways. */
  Envoy: 'envoy',
  /** Proxyless gRPC (grpc-js-xds, grpc-go). */
  Grpc: 'grpc',
} as const;
export type ClientKind = (typeof ClientKind)[keyof typeof ClientKind];

/**
 * What one client kind cannot honour in a rule or policy, by field path. `omit`: the client
 * would match or act more loosely than written (or reject the config), so it must not get
 * the rule at all. `ignored`: the client applies the rest, without these fields.
 */
export interface ClientLimits {
  readonly omit: readonly string[];
  readonly ignored: readonly string[];
}

/** Which policy object (and where in it) a piece of compiled config came from. */
export interface PolicySource {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** Field path inside the object (`spec.http[2]`). */
  readonly path: string;
}

/** Exactly one of the three. Regexes are RE2, matching the whole value. */
export type StringMatchRule = { readonly exact: string } | { readonly prefix: string } | { readonly regex: string };

export interface HeaderMatchRule {
  readonly name: string;
  /** `undefined`: the header must be present (any value). */
  readonly match: StringMatchRule | undefined;
  /** The header must not match (Istio's `withoutHeaders`). */
  readonly invert: boolean;
}

/** A path match; `pathPrefix` matches whole path segments (`/foo` matches `/foo/bar`, not `/foobar`). */
export type PathMatchRule = StringMatchRule | { readonly pathPrefix: string };

export interface RequestMatch {
  readonly uri?: PathMatchRule;
  readonly ignoreUriCase: boolean;
  readonly method?: StringMatchRule;
  readonly authority?: StringMatchRule;
  readonly scheme?: StringMatchRule;
  readonly headers: readonly HeaderMatchRule[];
  readonly queryParams: ReadonlyArray<{ readonly name: string; readonly match: StringMatchRule }>;
  /** The destination port the request arrived on. */
  readonly port?: number;
  /** Caller workload labels (client-side selection: the caller's sidecar decides). */
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly sourceNamespace?: string;
}

export interface HeaderEdits {
  readonly set: Readonly<Record<string, string>>;
  readonly add: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

export interface RouteTarget {
  /** FQDN of the destination service. */
  readonly host: string;
  readonly subset?: string;
  /** Destination port; `undefined`: the port the request came in on. */
  readonly port?: number;
}

export interface WeightedTarget extends RouteTarget {
  /** Relative weight (weight / sum of the rule's weights). */
  readonly weight: number;
  readonly headers?: { readonly request?: HeaderEdits; readonly response?: HeaderEdits };
}

export type RouteAction =
  | { readonly type: 'forward'; readonly targets: readonly WeightedTarget[] }
  | {
      readonly type: 'redirect';
      /** Replaces the whole path, or with `prefixOnly` the part a prefix match matched. */
      readonly path?: { readonly value: string; readonly prefixOnly: boolean };
      readonly authority?: string;
      readonly port?: number;
      readonly scheme?: string;
      readonly code: number;
    }
  | { readonly type: 'respond'; readonly status: number; readonly body?: string };

/** The retry conditions gRPC clients know (gRFC A44): status names; Envoy's HTTP conditions mean nothing to them. */
export const GRPC_RETRY_CONDITIONS: ReadonlySet<string> = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

export interface RetryRule {
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  /** Envoy's retry_on list (`5xx,connect-failure`) or gRPC status names. */
  readonly retryOn?: string;
  readonly retriableStatusCodes?: readonly number[];
  /** Base interval between attempts. */
  readonly backoffMs?: number;
}

export interface CorsRule {
  readonly allowOrigins: readonly StringMatchRule[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeMs?: number;
  readonly allowCredentials?: boolean;
}

export interface FaultRule {
  readonly delay?: { readonly fixedDelayMs: number; readonly percent: number };
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly percent: number };
}

export interface HttpRouteRule {
  readonly source: PolicySource;
  readonly name?: string;
  /** Any of these matches; empty: every request. */
  readonly matches: readonly RequestMatch[];
  readonly action: RouteAction;
  readonly timeoutMs?: number;
  readonly retries?: RetryRule;
  readonly fault?: FaultRule;
  readonly mirrors: ReadonlyArray<{ readonly target: RouteTarget; readonly percent: number }>;
  /** `uri` replaces what a prefix match matched (the whole path after an exact match); `uriRegex` rewrites by RE2 substitution. */
  readonly rewrite?: { readonly uri?: string; readonly uriRegex?: { readonly match: string; readonly rewrite: string }; readonly authority?: string };
  readonly headers?: { readonly request?: HeaderEdits; readonly response?: HeaderEdits };
  readonly cors?: CorsRule;
  /** What client kinds cannot honour here; a kind not listed honours all of it. */
  readonly limits: Readonly<Partial<Record<ClientKind, ClientLimits>>>;
}

export interface L4Match {
  readonly port?: number;
  readonly destinationSubnets: readonly string[];
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly sourceNamespace?: string;
  /** TLS routes: SNI names the client sent. */
  readonly sniHosts: readonly string[];
}

export interface L4RouteRule {
  readonly source: PolicySource;
  readonly matches: readonly L4Match[];
  readonly targets: readonly WeightedTarget[];
}

/** The HTTP routes one caller uses for one host (and port), first match wins. */
export interface HostRoutes {
  readonly host: string;
  /** Only for requests to this port; `undefined`: every port of the host. */
  readonly port?: number;
  readonly rules: readonly HttpRouteRule[];
  readonly tls: readonly L4RouteRule[];
  readonly tcp: readonly L4RouteRule[];
  /** The object these rules come from. */
  readonly source: PolicySource;
}

export type LoadBalancerRule =
  | { readonly type: 'simple'; readonly algorithm: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH' }
  | {
      readonly type: 'hash';
      readonly key: { readonly header: string } | { readonly cookie: string; readonly ttlMs?: number; readonly path?: string } | { readonly sourceIp: true } | { readonly queryParameter: string };
      readonly ring: 'ring' | 'maglev';
      readonly minimumRingSize?: number;
    };

export interface LocalityLbRule {
  readonly enabled: boolean;
  readonly failover: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  readonly failoverPriority: readonly string[];
  readonly distribute: ReadonlyArray<{ readonly from: string; readonly to: Readonly<Record<string, number>> }>;
}

export interface ConnectionPoolRule {
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  readonly maxPendingRequests?: number;
  readonly maxRequests?: number;
  readonly maxRequestsPerConnection?: number;
  readonly maxRetries?: number;
  readonly idleTimeoutMs?: number;
}

export interface OutlierDetectionRule {
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly intervalMs?: number;
  readonly baseEjectionTimeMs?: number;
  readonly maxEjectionPercent?: number;
  readonly minHealthPercent?: number;
}

export interface ClusterPolicy {
  readonly loadBalancer?: LoadBalancerRule;
  readonly locality?: LocalityLbRule;
  readonly connectionPool?: ConnectionPoolRule;
  readonly outlierDetection?: OutlierDetectionRule;
  /** Client TLS mode toward the destination; `undefined`: the mesh default. */
  readonly tlsMode?: 'DISABLE' | 'ISTIO_MUTUAL' | 'SIMPLE' | 'MUTUAL';
  /** What client kinds cannot honour here (`omit`: fall back to the default for that field). */
  readonly limits: Readonly<Partial<Record<ClientKind, ClientLimits>>>;
}

export interface Subset {
  readonly name: string;
  /** Endpoints whose workload carries all of these labels (`topology.istio.io/cluster` selects a cluster). */
  readonly labels: Readonly<Record<string, string>>;
  readonly policy: ClusterPolicy;
  readonly portPolicies: ReadonlyMap<number, ClusterPolicy>;
}

/** What a DestinationRule says of one host, for one caller. */
export interface DestinationPolicy {
  readonly host: string;
  readonly source: PolicySource;
  readonly policy: ClusterPolicy;
  readonly portPolicies: ReadonlyMap<number, ClusterPolicy>;
  readonly subsets: ReadonlyMap<string, Subset>;
}

/**
 * What a Sidecar lets the proxies it selects see of the mesh (its egress hosts): services
 * outside it are not sent to them. Absent: everything.
 */
export interface EgressScope {
  readonly source: PolicySource;
  /** `namespace/host` patterns: namespace `*` for any; host `*` for any, `*.suffix`, or a FQDN. */
  readonly hosts: ReadonlyArray<{ readonly namespace: string; readonly host: string }>;
  /** `outboundTrafficPolicy: REGISTRY_ONLY`: connections to destinations the mesh does not know go nowhere. */
  readonly registryOnly?: boolean;
}

/** Whether a scope lets a proxy see a service. */
export function scopeAllows(scope: EgressScope | undefined, service: { readonly hostname: string; readonly namespace: string }): boolean {
  if (!scope) return true;
  return scope.hosts.some(
    (h) =>
      (h.namespace === '*' || h.namespace === service.namespace) &&
      (h.host === '*' || h.host === service.hostname || (h.host.startsWith('*.') && service.hostname.endsWith(h.host.slice(1)))),
  );
}

/** A stable name for a scope, for keying what proxies of one scope share. */
export function scopeKey(scope: EgressScope | undefined): string {
  return scope ? `${scope.source.namespace}/${scope.source.name}` : '';
}

/** Who is asking: the caller's namespace decides visibility (exportTo) and consumer overrides. */
export interface PolicyCaller {
  readonly namespace: string;
}

/** The compiled traffic policy of the mesh, as generators read it (a push snapshot holds one). */
export interface TrafficPolicies {
  /** The HTTP routes `caller` uses for `host` on `port`, or `undefined` for default routing. */
  routesFor(host: string, port: number, caller: PolicyCaller): HostRoutes | undefined;
  /** The DestinationRule in effect for `host` as `caller` sees it. */
  destinationFor(host: string, caller: PolicyCaller): DestinationPolicy | undefined;
  /** Some route matches on the caller's labels: routes then differ between callers of one namespace. */
  readonly usesSourceLabels: boolean;
  /** The Sidecar egress scope of a workload: its own namespace's (a selecting one first), else the root namespace's. */
  egressFor(workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }): EgressScope | undefined;
}
