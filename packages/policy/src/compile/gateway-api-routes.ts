/**
 * HTTPRoute and GRPCRoute with Service parents (the Gateway API's mesh profile) compiled
 * into the shared route model. A route in the Service's own namespace is a producer route
 * and applies to every caller; one in another namespace is a consumer route and applies only
 * to callers in its own namespace.
 */
import type { HeaderEdits, HeaderMatchRule, HttpRouteRule, PathMatchRule, PolicySource, RequestMatch, RouteAction, StringMatchRule, WeightedTarget } from '@meridian/model';
import type { PolicyObjectOf } from '../policy-object.ts';
import { parseDurationMs } from '../schemas/common.ts';
import type { GrpcRouteSpec, HttpRouteSpec } from '../schemas/gateway-api.ts';
import { httpRuleLimits } from './client-limits.ts';
import { ProblemSeverity } from './problems.ts';
import { defined, optionalMs, type CompileContext } from './virtual-service-routes.ts';

type HttpRule = NonNullable<HttpRouteSpec['rules']>[number];
type GrpcRule = NonNullable<GrpcRouteSpec['rules']>[number];
type Filter = NonNullable<HttpRule['filters']>[number];
type BackendRef = NonNullable<HttpRule['backendRefs']>[number];

export interface CompiledServiceRoute {
  /** The parent Service's full name. */
  readonly host: string;
  readonly serviceNamespace: string;
  readonly port?: number;
  readonly rules: readonly HttpRouteRule[];
}

/** Gateway API's defaults: a backend's weight is 1; a redirect is a 302. */
const DEFAULT_WEIGHT = 1;
const DEFAULT_REDIRECT = 302;
/** The spec leaves a retry's attempts to the implementation: Istio's default, 2. */
const DEFAULT_RETRY_ATTEMPTS = 2;
/** What a rule answers when it has nowhere valid to send a request (the spec's 500). */
const NO_BACKEND: RouteAction = { type: 'respond', status: 500 };

export function compileServiceRoute(route: PolicyObjectOf<'HTTPRoute'> | PolicyObjectOf<'GRPCRoute'>, ctx: CompileContext): CompiledServiceRoute[] {
  const { namespace } = route;
  const ref = { kind: route.kind, namespace, name: route.name };
  const service = (name: string, ns: string | undefined) => `${name}.${ns ?? namespace}.svc.${ctx.domainSuffix}`;
  const source = (path: string): PolicySource => ({ kind: route.kind, namespace, name: route.name, path });
  const unsupported = (path: string, message: string) => ctx.problems.push({ ref, path, message, severity: ProblemSeverity.Part });

  const rules: HttpRouteRule[] =
    route.kind === 'HTTPRoute'
      ? (route.spec.rules ?? []).map((r, i) => httpRule(r, `spec.rules[${i}]`))
      : (route.spec.rules ?? []).map((r, i) => grpcRule(r, `spec.rules[${i}]`));

  const parents = route.spec.parentRefs.flatMap((p, i) => {
    if ((p.group ?? '') !== '' || p.kind !== 'Service') {
      unsupported(`spec.parentRefs[${i}]`, `parent ${p.kind ?? 'Gateway'} ${p.name} is not a Service; Meridian serves the mesh profile (Service parents) only`);
      return [];
    }
    return [{ host: service(p.name, p.namespace), serviceNamespace: p.namespace ?? namespace, ...defined('port', p.port) }];
  });
  return parents.map((p) => ({ ...p, rules }));

  function httpRule(r: HttpRule, path: string): HttpRouteRule {
    return withLimits(httpRuleBody(r, path));
  }

  function httpRuleBody(r: HttpRule, path: string): Omit<HttpRouteRule, 'limits'> {
    const matches = (r.matches ?? []).map((m): RequestMatch => ({
      ...(m.path ? { uri: pathMatch(m.path.type ?? 'PathPrefix', m.path.value ?? '/') } : {}),
      ignoreUriCase: false,
      ...(m.method ? { method: { exact: m.method } } : {}),
      headers: (m.headers ?? []).map(headerMatch),
      queryParams: (m.queryParams ?? []).map((q) => ({ name: q.name, match: valueMatch(q.type, q.value) })),
    }));
    const redirect = r.filters?.find((f) => f.type === 'RequestRedirect')?.requestRedirect;
    const rewrite = r.filters?.find((f) => f.type === 'URLRewrite')?.urlRewrite;
    const timeoutMs = parseDurationMs(r.timeouts?.request ?? r.timeouts?.backendRequest ?? '');
    if (r.timeouts?.request && r.timeouts.backendRequest && r.timeouts.request !== r.timeouts.backendRequest) {
      ctx.problems.push({ ref, path: `${path}.timeouts.backendRequest`, message: 'backendRequest is applied only when request is not set; request applies', severity: ProblemSeverity.Warning });
    }
    let action: RouteAction;
    if (redirect) {
      const p = redirect.path;
      action = {
        type: 'redirect',
        ...(p ? { path: { value: (p.type === 'ReplaceFullPath' ? p.replaceFullPath : p.replacePrefixMatch) ?? '/', prefixOnly: p.type === 'ReplacePrefixMatch' } } : {}),
        ...defined('authority', redirect.hostname),
        ...defined('port', redirect.port),
        ...defined('scheme', redirect.scheme),
        code: redirect.statusCode ?? DEFAULT_REDIRECT,
      };
    } else {
      action = forward(r.backendRefs, path);
    }
    return {
      source: source(path),
      ...defined('name', r.name),
      matches,
      action,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(r.retry ? { retries: { attempts: r.retry.attempts ?? DEFAULT_RETRY_ATTEMPTS, ...optionalMs('backoffMs', r.retry.backoff), ...(r.retry.codes?.length ? { retryOn: 'retriable-status-codes', retriableStatusCodes: r.retry.codes } : {}) } } : {}),
      mirrors: mirrors(r.filters),
      ...(rewrite
        ? {
            rewrite: {
              ...defined('authority', rewrite.hostname),
              ...(rewrite.path?.type === 'ReplacePrefixMatch' ? { uri: rewrite.path.replacePrefixMatch ?? '/' } : {}),
              ...(rewrite.path?.type === 'ReplaceFullPath' ? { uriRegex: { match: '^/.*$', rewrite: rewrite.path.replaceFullPath ?? '/' } } : {}),
            },
          }
        : {}),
      ...headerFilters(r.filters, path),
    };
  }

  function grpcRule(r: GrpcRule, path: string): HttpRouteRule {
    return withLimits(grpcRuleBody(r, path));
  }

  function grpcRuleBody(r: GrpcRule, path: string): Omit<HttpRouteRule, 'limits'> {
    const matches = (r.matches ?? []).map((m): RequestMatch => {
      const method = m.method;
      let uri: PathMatchRule | undefined;
      if (method && (method.type ?? 'Exact') === 'Exact') {
        if (method.service && method.method) uri = { exact: `/${method.service}/${method.method}` };
        else if (method.service) uri = { prefix: `/${method.service}/` };
        else if (method.method) uri = { regex: `/[^/]+/${escapeRe2(method.method)}` };
      } else if (method) {
        uri = { regex: `/${method.service ?? '[^/]+'}/${method.method ?? '[^/]+'}` };
      }
      return { ...(uri ? { uri } : {}), ignoreUriCase: false, headers: (m.headers ?? []).map(headerMatch), queryParams: [] };
    });
    return { source: source(path), ...defined('name', r.name), matches, action: forward(r.backendRefs, path), mirrors: mirrors(r.filters), ...headerFilters(r.filters, path) };
  }

  function forward(backendRefs: readonly BackendRef[] | undefined, path: string): RouteAction {
    if (!backendRefs?.length) return NO_BACKEND;
    const targets: WeightedTarget[] = [];
    for (const [i, b] of backendRefs.entries()) {
      if ((b.group ?? '') !== '' || (b.kind ?? 'Service') !== 'Service') {
        unsupported(`${path}.backendRefs[${i}]`, `backend ${b.kind ?? 'Service'} ${b.name} is not a Service; requests its weight would take get 500, as the spec says`);
      }
      const weight = b.weight ?? DEFAULT_WEIGHT;
      if (weight === 0) continue;
      const headers = headerFilters(b.filters, `${path}.backendRefs[${i}]`).headers;
      targets.push({ host: service(b.name, b.namespace), ...defined('port', b.port), weight, ...(headers ? { headers } : {}) });
    }
    return targets.length ? { type: 'forward', targets } : NO_BACKEND;
  }

  function mirrors(filters: readonly Filter[] | undefined): HttpRouteRule['mirrors'] {
    return (filters ?? []).flatMap((f) => {
      const m = f.requestMirror;
      if (!m) return [];
      const percent = m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
      return [{ target: { host: service(m.backendRef.name, m.backendRef.namespace), ...defined('port', m.backendRef.port) }, percent }];
    });
  }

  function headerFilters(filters: readonly Filter[] | undefined, path: string): { headers?: { request?: HeaderEdits; response?: HeaderEdits } } {
    let request: HeaderEdits | undefined;
    let response: HeaderEdits | undefined;
    for (const [i, f] of (filters ?? []).entries()) {
      if (f.requestHeaderModifier) request = edits(f.requestHeaderModifier);
      if (f.responseHeaderModifier) response = edits(f.responseHeaderModifier);
      if (f.type === 'ExtensionRef') unsupported(`${path}.filters[${i}]`, 'ExtensionRef filters are not supported');
    }
    return request || response ? { headers: { ...(request ? { request } : {}), ...(response ? { response } : {}) } } : {};
  }
}

function withLimits(rule: Omit<HttpRouteRule, 'limits'>): HttpRouteRule {
  return { ...rule, limits: httpRuleLimits(rule) };
}

function pathMatch(type: 'Exact' | 'PathPrefix' | 'RegularExpression', value: string): PathMatchRule {
  if (type === 'Exact') return { exact: value };
  if (type === 'RegularExpression') return { regex: value };
  // "/" and "/foo/" match every path under them; otherwise whole segments only.
  const trimmed = value.replace(/\/+$/, '');
  return trimmed === '' ? { prefix: '/' } : { pathPrefix: trimmed };
}

function valueMatch(type: 'Exact' | 'RegularExpression' | undefined, value: string): StringMatchRule {
  return type === 'RegularExpression' ? { regex: value } : { exact: value };
}

function headerMatch(h: { type?: 'Exact' | 'RegularExpression' | undefined; name: string; value: string }): HeaderMatchRule {
  return { name: h.name.toLowerCase(), match: valueMatch(h.type, h.value), invert: false };
}

function edits(m: { set?: Array<{ name: string; value: string }> | undefined; add?: Array<{ name: string; value: string }> | undefined; remove?: string[] | undefined }): HeaderEdits {
  const toRecord = (list: Array<{ name: string; value: string }> | undefined) => Object.fromEntries((list ?? []).map((h) => [h.name.toLowerCase(), h.value]));
  return { set: toRecord(m.set), add: toRecord(m.add), remove: (m.remove ?? []).map((h) => h.toLowerCase()) };
}

function escapeRe2(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
