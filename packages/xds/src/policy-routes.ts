/**
 * Compiled traffic policy (`HostRoutes`, `DestinationPolicy`) as Envoy route messages, for
 * one kind of client. Envoy sidecars get every field the model has that Meridian applies;
 * proxyless gRPC gets only what its gRFCs define (the rule's `limits.grpc`): a rule a gRPC
 * client would match more loosely than written is left out, fields it would ignore are not
 * sent. Source matches (`sourceLabels`, `sourceNamespace`) and port matches are decided here,
 * for the caller and port the route configuration is built for, as Istio does.
 */
import {
  ClientKind,
  GRPC_RETRY_CONDITIONS,
  type DestinationPolicy,
  type FaultRule,
  type HeaderEdits,
  type HostRoutes,
  type HttpRouteRule,
  type PathMatchRule,
  type RequestMatch,
  type RetryRule,
  type RouteTarget,
  type StringMatchRule,
  type CorsRule,
} from '@meridian/model';
import { clusterPolicyOf, duration } from './policy-clusters.ts';
import { outboundClusterName } from './resource-names.ts';
import { escapeRegex } from './string-match.ts';
import { NO_PEER_STAMP, PEER_SERVICE_HEADER } from './workload-metrics.ts';

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
/**
 * The fault filter with no fault of its own: a route's `typed_per_filter_config` turns it on
 * (gRFC A33 reads it the same way). It sits before the router in every outbound HTTP chain.
 */
export const FAULT_FILTER = { name: FAULT_FILTER_NAME, typed_config: { '@type': FAULT_TYPE } };

export const CORS_FILTER_NAME = 'envoy.filters.http.cors';
const CORS_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
const CORS_POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
/**
 * The CORS filter with no policy of its own, in a sidecar's outbound HTTP chains (Istio applies
 * a VirtualService's corsPolicy on the client side too): a route's `typed_per_filter_config`
 * gives it one. Envoy sidecars only; gRPC clients have no browser to answer.
 */
export const CORS_FILTER = { name: CORS_FILTER_NAME, typed_config: { '@type': CORS_TYPE } };

/** Who the route configuration is for: what source matches are decided against. */
export interface RouteCaller {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface RouteBuildContext {
  readonly client: ClientKind;
  readonly caller: RouteCaller;
  /** The port requests arrive on (the listener's, or the gRPC target's). */
  readonly port: number;
  /** The DestinationRule in effect for a host, for consistent-hash keys. */
  readonly destinationFor: (host: string) => DestinationPolicy | undefined;
  /** Whether a host is outside the mesh (a MESH_EXTERNAL ServiceEntry): a route sending there tells it nothing of the caller. */
  readonly isExternal?: (host: string) => boolean;
}

/** Whether building `routes` for some caller reads the caller's labels (so routes must be keyed by them). */
export function readsCallerLabels(routes: HostRoutes | undefined): boolean {
  return routes?.rules.some((r) => r.matches.some((m) => m.sourceLabels !== undefined)) ?? false;
}

/** The routes of a virtual host: the compiled rules that apply to this client, caller and port, in order. */
export function buildPolicyRoutes(routes: HostRoutes, ctx: RouteBuildContext): object[] {
  const out: object[] = [];
  for (const rule of routes.rules) {
    if ((rule.limits[ctx.client]?.omit.length ?? 0) > 0) continue;
    const matches = rule.matches.length === 0 ? [undefined] : rule.matches.filter((m) => appliesTo(m, ctx));
    for (const m of matches) out.push(buildRoute(rule, m, ctx));
  }
  return out;
}

/** The route for a host with no route policy: everything to its cluster on this port. */
export function buildDefaultRoute(host: string, ctx: RouteBuildContext): object {
  const target = { host, port: ctx.port };
  return {
    match: { prefix: ctx.client === ClientKind.Grpc ? '' : '/' },
    route: { cluster: clusterOf(target, ctx.port), ...hashPolicy([target], ctx), ...(ctx.client === ClientKind.Envoy ? { timeout: {}, retry_policy: MESH_DEFAULT_RETRY } : {}) },
  };
}

/** The cluster a target names: `outbound|<port>|<subset>|<host>`. */
export function clusterOf(target: RouteTarget, port: number): string {
  return outboundClusterName(target.host, target.port ?? port, target.subset ?? '');
}

function appliesTo(m: RequestMatch, ctx: RouteBuildContext): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.caller.namespace) return false;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => ctx.caller.labels[k] === v)) return false;
  return true;
}

function buildRoute(rule: HttpRouteRule, m: RequestMatch | undefined, ctx: RouteBuildContext): object {
  const envoy = ctx.client === ClientKind.Envoy;
  const route: Record<string, unknown> = { match: buildMatch(m, ctx.client) };
  if (rule.name !== undefined) route['name'] = rule.name;
  const action = rule.action;
  if (action.type === 'redirect') {
    route['redirect'] = {
      ...(action.path ? (action.path.prefixOnly ? { prefix_rewrite: action.path.value } : { path_redirect: action.path.value }) : {}),
      ...(action.authority !== undefined ? { host_redirect: action.authority } : {}),
      ...(action.port !== undefined ? { port_redirect: action.port } : {}),
      ...(action.scheme !== undefined ? { scheme_redirect: action.scheme } : {}),
      response_code: REDIRECT_CODES[action.code] ?? 'MOVED_PERMANENTLY',
    };
  } else if (action.type === 'respond') {
    route['direct_response'] = { status: action.status, ...(action.body !== undefined ? { body: { inline_string: action.body } } : {}) };
  } else {
    const [only, ...more] = action.targets;
    const forward: Record<string, unknown> = {};
    if (only && more.length === 0 && !(envoy && only.headers)) forward['cluster'] = clusterOf(only, ctx.port);
    else {
      forward['weighted_clusters'] = {
        clusters: action.targets.map((t) => ({
          name: clusterOf(t, ctx.port),
          weight: { value: t.weight },
          ...(envoy && t.headers ? headerEditFields(t.headers) : {}),
        })),
      };
    }
    Object.assign(forward, hashPolicy(action.targets, ctx));
    if (envoy) {
      forward['timeout'] = duration(rule.timeoutMs ?? 0);
      forward['retry_policy'] = (rule.retries && retryPolicy(rule.retries, ctx.client)) ?? MESH_DEFAULT_RETRY;
      if (rule.mirrors.length > 0) {
        forward['request_mirror_policies'] = rule.mirrors.map((mirror) => ({ cluster: clusterOf(mirror.target, ctx.port), runtime_fraction: { default_value: fraction(mirror.percent) } }));
      }
      if (rule.rewrite?.uri !== undefined) forward['prefix_rewrite'] = rule.rewrite.uri;
      if (rule.rewrite?.uriRegex) forward['regex_rewrite'] = { pattern: { regex: rule.rewrite.uriRegex.match }, substitution: rule.rewrite.uriRegex.rewrite };
      if (rule.rewrite?.authority !== undefined) forward['host_rewrite_literal'] = rule.rewrite.authority;
    } else {
      // gRFC A31: the deadline a gRPC client applies per call.
      if (rule.timeoutMs !== undefined && rule.timeoutMs > 0) forward['max_stream_duration'] = { max_stream_duration: duration(rule.timeoutMs) };
      // gRPC clients refuse a policy of 0 retries (grpc-go: num_retries must be >= 1): none is the same.
      const retry = rule.retries && rule.retries.attempts > 0 ? retryPolicy(rule.retries, ctx.client) : undefined;
      if (retry) forward['retry_policy'] = retry;
    }
    route['route'] = forward;
  }
  if (envoy && rule.headers) Object.assign(route, headerEditFields(rule.headers));
  const perFilter: Record<string, object> = {};
  if (envoy && action.type === 'forward' && leavesMesh(action.targets, rule.mirrors, ctx)) {
    // The virtual host of a mesh service stamps the caller's identity and the service called:
    // a request (or its mirror) that leaves the mesh carries neither (the route's edits come
    // last: the route configuration says the most specific wins).
    Object.assign(perFilter, NO_PEER_STAMP);
    route['request_headers_to_remove'] = [...((route['request_headers_to_remove'] as string[] | undefined) ?? []), PEER_SERVICE_HEADER];
  }
  if (rule.fault) perFilter[FAULT_FILTER_NAME] = faultConfig(rule.fault);
  if (envoy && rule.cors) perFilter[CORS_FILTER_NAME] = corsPolicy(rule.cors);
  if (Object.keys(perFilter).length) route['typed_per_filter_config'] = perFilter;
  return route;
}

function leavesMesh(targets: readonly RouteTarget[], mirrors: readonly { readonly target: RouteTarget }[], ctx: RouteBuildContext): boolean {
  const external = ctx.isExternal;
  return external !== undefined && (targets.some((t) => external(t.host)) || mirrors.some((m) => external(m.target.host)));
}

const REDIRECT_CODES: Readonly<Record<number, string>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function buildMatch(m: RequestMatch | undefined, client: ClientKind): object {
  const grpc = client === ClientKind.Grpc;
  if (!m) return { prefix: grpc ? '' : '/' };
  const match: Record<string, unknown> = m.uri ? pathMatch(m.uri, grpc) : { prefix: grpc ? '' : '/' };
  if (m.ignoreUriCase) match['case_sensitive'] = { value: false };
  const headers = m.headers.map((h) => ({
    name: h.name,
    ...(h.match ? { string_match: stringMatcher(h.match) } : { present_match: true }),
    ...(h.invert ? { invert_match: true } : {}),
  }));
  // Pseudo-headers carry what HTTP/2 puts there; Envoy matches them like any header.
  if (m.method) headers.push({ name: ':method', string_match: stringMatcher(m.method) });
  if (m.authority) headers.push({ name: ':authority', string_match: stringMatcher(m.authority) });
  if (m.scheme) headers.push({ name: ':scheme', string_match: stringMatcher(m.scheme) });
  if (headers.length > 0) match['headers'] = headers;
  if (m.queryParams.length > 0) match['query_parameters'] = m.queryParams.map((q) => ({ name: q.name, string_match: stringMatcher(q.match) }));
  return match;
}

function pathMatch(uri: PathMatchRule, grpc: boolean): Record<string, unknown> {
  if ('exact' in uri) return { path: uri.exact };
  if ('prefix' in uri) return { prefix: uri.prefix };
  if ('regex' in uri) return { safe_regex: { regex: uri.regex } };
  const p = uri.pathPrefix.replace(/\/+$/, '');
  if (p === '') return { prefix: grpc ? '' : '/' };
  // Whole segments: gRPC clients know no path_separated_prefix, so they get its regex.
  return grpc ? { safe_regex: { regex: `${escapeRegex(p)}(/.*)?` } } : { path_separated_prefix: p };
}

function stringMatcher(rule: StringMatchRule): object {
  if ('exact' in rule) return { exact: rule.exact };
  if ('prefix' in rule) return { prefix: rule.prefix };
  return { safe_regex: { regex: rule.regex } };
}

/**
 * A rule's retries for one client kind. Without `retryOn`, Istio's default conditions; a gRPC
 * client takes the gRPC status ones among them. `undefined`: nothing this client can retry on.
 */
function retryPolicy(r: RetryRule, client: ClientKind): object | undefined {
  const given = (r.retryOn ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  const conditions = given.length > 0 ? given : DEFAULT_RETRY_ON.split(',');
  const retryOn = client === ClientKind.Grpc ? conditions.filter((c) => GRPC_RETRY_CONDITIONS.has(c)) : conditions;
  if (retryOn.length === 0) return undefined;
  return {
    retry_on: retryOn.join(','),
    num_retries: { value: r.attempts },
    ...(client === ClientKind.Envoy && r.perTryTimeoutMs !== undefined ? { per_try_timeout: duration(r.perTryTimeoutMs) } : {}),
    ...(client === ClientKind.Envoy && r.retriableStatusCodes?.length ? { retriable_status_codes: r.retriableStatusCodes } : {}),
    ...(r.backoffMs !== undefined ? { retry_back_off: { base_interval: duration(r.backoffMs) } } : {}),
  };
}

/** Istio's default conditions when a VirtualService sets attempts but no `retryOn`. */
const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/**
 * What an Envoy route retries when its rule says nothing: Istio's default, as its users
 * expect, plus `reset-before-request` (a request whose connection failed before any of it was
 * sent, which the server cannot have acted on). A connection the server closes under a request
 * already sent is not retried: policy changes avoid causing that by leaving HTTP chains alone
 * (`rbac.ts`).
 */
const MESH_DEFAULT_RETRY = {
  retry_on: `${DEFAULT_RETRY_ON},reset-before-request`,
  num_retries: { value: 2 },
  retriable_status_codes: [503],
};

/** Istio's corsPolicy as Envoy's: origins as string matchers, lists comma-joined, max age in seconds. */
function corsPolicy(c: CorsRule): object {
  return {
    '@type': CORS_POLICY_TYPE,
    allow_origin_string_match: c.allowOrigins.map(stringMatcher),
    ...(c.allowMethods.length ? { allow_methods: c.allowMethods.join(',') } : {}),
    ...(c.allowHeaders.length ? { allow_headers: c.allowHeaders.join(',') } : {}),
    ...(c.exposeHeaders.length ? { expose_headers: c.exposeHeaders.join(',') } : {}),
    ...(c.maxAgeMs !== undefined ? { max_age: String(Math.floor(c.maxAgeMs / 1000)) } : {}),
    ...(c.allowCredentials !== undefined ? { allow_credentials: { value: c.allowCredentials } } : {}),
  };
}

function faultConfig(f: FaultRule): object {
  return {
    '@type': FAULT_TYPE,
    ...(f.delay ? { delay: { fixed_delay: duration(f.delay.fixedDelayMs), percentage: fraction(f.delay.percent) } } : {}),
    ...(f.abort
      ? {
          abort: {
            ...(f.abort.grpcStatus !== undefined ? { grpc_status: grpcStatusCode(f.abort.grpcStatus) } : { http_status: f.abort.httpStatus ?? 503 }),
            percentage: fraction(f.abort.percent),
          },
        }
      : {}),
  };
}

const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

function grpcStatusCode(status: string): number {
  const byName = GRPC_CODES.indexOf(status.toUpperCase());
  return byName >= 0 ? byName : Number(status) || 2;
}

function hashPolicy(targets: readonly RouteTarget[], ctx: RouteBuildContext): object {
  const first = targets[0];
  const lb = first && clusterPolicyOf(ctx.destinationFor(first.host), first.subset ?? '', first.port ?? ctx.port)?.loadBalancer;
  if (lb?.type !== 'hash') return {};
  const key = lb.key;
  if ('header' in key) return { hash_policy: [{ header: { header_name: key.header } }] };
  if (ctx.client === ClientKind.Grpc) return {};
  if ('cookie' in key) return { hash_policy: [{ cookie: { name: key.cookie, ...(key.ttlMs !== undefined ? { ttl: duration(key.ttlMs) } : {}), ...(key.path ? { path: key.path } : {}) } }] };
  if ('sourceIp' in key) return { hash_policy: [{ connection_properties: { source_ip: true } }] };
  return { hash_policy: [{ query_parameter: { name: key.queryParameter } }] };
}

function headerEditFields(edits: { readonly request?: HeaderEdits; readonly response?: HeaderEdits }): object {
  const add = (e: HeaderEdits) => [
    ...Object.entries(e.set).map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
    ...Object.entries(e.add).map(([key, value]) => ({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' })),
  ];
  return {
    ...(edits.request ? { request_headers_to_add: add(edits.request), request_headers_to_remove: edits.request.remove } : {}),
    ...(edits.response ? { response_headers_to_add: add(edits.response), response_headers_to_remove: edits.response.remove } : {}),
  };
}

/** A percentage (0–100, fractions allowed) as Envoy's FractionalPercent per million. */
function fraction(percent: number): object {
  return { numerator: Math.round(Math.min(100, Math.max(0, percent)) * 10_000), denominator: 'MILLION' };
}
