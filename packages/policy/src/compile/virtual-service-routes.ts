/** A VirtualService compiled into the shared route model. */
import type {
  CorsRule,
  HeaderEdits,
  HeaderMatchRule,
  HttpRouteRule,
  L4RouteRule,
  PolicySource,
  RequestMatch,
  RouteAction,
  RouteTarget,
  StringMatchRule,
  WeightedTarget,
} from '@meridian/model';
import type { PolicyObjectOf } from '../policy-object.ts';
import { parseDurationMs } from '../schemas/common.ts';
import type { VirtualServiceSpec } from '../schemas/virtual-service.ts';
import { httpRuleLimits } from './client-limits.ts';
import { resolveHost } from './hosts.ts';
import { ProblemSeverity, type CompileProblem } from './problems.ts';

type Http = NonNullable<VirtualServiceSpec['http']>[number];
type Match = NonNullable<Http['match']>[number];
type IstioStringMatch = { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined };
type IstioHeaders = { set?: Record<string, string> | undefined; add?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined;

export interface CompiledVirtualService {
  /** Hosts as full names (wildcards kept). */
  readonly hosts: readonly string[];
  readonly http: readonly HttpRouteRule[];
  readonly tls: readonly L4RouteRule[];
  readonly tcp: readonly L4RouteRule[];
  /** Meant for the mesh (sidecars, proxyless clients): not bound to gateways only. */
  readonly forMesh: boolean;
}

export interface CompileContext {
  readonly domainSuffix: string;
  readonly problems: CompileProblem[];
}

/** Istio's defaults: a fault or mirror without a percentage applies to every request. */
const ALL = 100;

export function compileVirtualService(vs: PolicyObjectOf<'VirtualService'>, ctx: CompileContext): CompiledVirtualService | undefined {
  const { spec, namespace } = vs;
  const ref = { kind: vs.kind, namespace, name: vs.name };
  const problem = (path: string, message: string, severity: ProblemSeverity = ProblemSeverity.Error) => ctx.problems.push({ ref, path, message, severity });
  const host = (h: string) => resolveHost(h, namespace, ctx.domainSuffix);
  const source = (path: string): PolicySource => ({ kind: vs.kind, namespace, name: vs.name, path });

  if (spec.http?.some((r) => r.delegate)) {
    problem('spec.http', 'delegate VirtualServices are not supported; the object is not applied');
    return undefined;
  }
  const forMesh = !spec.gateways?.length || spec.gateways.includes('mesh');
  const target = (d: { host: string; subset?: string | undefined; port?: { number: number } | undefined }): RouteTarget => ({
    host: host(d.host),
    ...(d.subset !== undefined ? { subset: d.subset } : {}),
    ...(d.port ? { port: d.port.number } : {}),
  });

  const http = (spec.http ?? []).flatMap((r, i): HttpRouteRule[] => {
    const path = `spec.http[${i}]`;
    const matches = (r.match ?? []).filter((m) => !m.gateways?.length || m.gateways.includes('mesh'));
    // A rule whose every match names gateways other than the mesh is not the mesh's rule.
    if (r.match?.length && matches.length === 0) return [];
    const rule: Omit<HttpRouteRule, 'limits'> = {
      source: source(path),
      ...(r.name !== undefined ? { name: r.name } : {}),
      matches: matches.map(requestMatch),
      action: action(r, target),
      ...optionalMs('timeoutMs', r.timeout),
      ...(r.retries ? { retries: { attempts: r.retries.attempts, ...optionalMs('perTryTimeoutMs', r.retries.perTryTimeout), ...(r.retries.retryOn ? { retryOn: r.retries.retryOn } : {}) } } : {}),
      ...(r.fault ? { fault: fault(r.fault) } : {}),
      mirrors: [
        ...(r.mirror ? [{ target: target(r.mirror), percent: r.mirrorPercentage?.value ?? ALL }] : []),
        ...(r.mirrors ?? []).map((m) => ({ target: target(m.destination), percent: m.percentage?.value ?? ALL })),
      ],
      ...(r.rewrite ? { rewrite: { ...defined('uri', r.rewrite.uri), ...defined('authority', r.rewrite.authority), ...(r.rewrite.uriRegexRewrite ? { uriRegex: r.rewrite.uriRegexRewrite } : {}) } } : {}),
      ...(r.headers ? { headers: headerEditsPair(r.headers) } : {}),
      ...(r.corsPolicy ? { cors: cors(r.corsPolicy) } : {}),
    };
    return [{ ...rule, limits: httpRuleLimits(rule) }];
  });

  const l4 = (kind: 'tls' | 'tcp') =>
    (spec[kind] ?? []).map((r, i): L4RouteRule => ({
      source: source(`spec.${kind}[${i}]`),
      matches: (r.match ?? []).map((m) => ({
        ...(m.port !== undefined ? { port: m.port } : {}),
        destinationSubnets: m.destinationSubnets ?? [],
        ...(m.sourceLabels ? { sourceLabels: m.sourceLabels } : {}),
        ...(m.sourceNamespace ? { sourceNamespace: m.sourceNamespace } : {}),
        sniHosts: 'sniHosts' in m ? (m.sniHosts as string[]) : [],
      })),
      targets: weighted(r.route.map((d) => ({ target: target(d.destination), weight: d.weight }))),
    }));

  return { hosts: (spec.hosts ?? []).map(host), http, tls: l4('tls'), tcp: l4('tcp'), forMesh };
}

function action(r: Http, target: (d: NonNullable<Http['route']>[number]['destination']) => RouteTarget): RouteAction {
  if (r.redirect) {
    const { uri, authority, port, scheme, redirectCode } = r.redirect;
    return { type: 'redirect', ...(uri !== undefined ? { path: { value: uri, prefixOnly: false } } : {}), ...defined('authority', authority), ...defined('port', port), ...defined('scheme', scheme), code: redirectCode ?? 301 };
  }
  if (r.directResponse) {
    const body = r.directResponse.body?.string ?? (r.directResponse.body?.bytes !== undefined ? Buffer.from(r.directResponse.body.bytes, 'base64').toString() : undefined);
    return { type: 'respond', status: r.directResponse.status, ...defined('body', body) };
  }
  const route = r.route ?? [];
  return {
    type: 'forward',
    targets: weighted(route.map((d) => ({ target: target(d.destination), weight: d.weight, ...(d.headers ? { headers: headerEditsPair(d.headers) } : {}) }))),
  };
}

/** Upstream: a lone destination takes all traffic whatever its weight; with several, an unset weight is 0. */
function weighted(route: ReadonlyArray<{ target: RouteTarget; weight: number | undefined; headers?: WeightedTarget['headers'] }>): WeightedTarget[] {
  if (route.length === 1) {
    const [only] = route;
    return only ? [{ ...only.target, weight: 100, ...(only.headers ? { headers: only.headers } : {}) }] : [];
  }
  return route.filter((d) => (d.weight ?? 0) > 0).map((d) => ({ ...d.target, weight: d.weight ?? 0, ...(d.headers ? { headers: d.headers } : {}) }));
}

function stringMatch(m: IstioStringMatch | undefined): StringMatchRule | undefined {
  if (m?.exact !== undefined) return { exact: m.exact };
  if (m?.prefix !== undefined) return { prefix: m.prefix };
  if (m?.regex !== undefined) return { regex: m.regex };
  return undefined;
}

function requestMatch(m: Match): RequestMatch {
  const headers: HeaderMatchRule[] = [
    ...Object.entries(m.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), match: stringMatch(value), invert: false })),
    ...Object.entries(m.withoutHeaders ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), match: stringMatch(value), invert: true })),
  ];
  const queryParams = Object.entries(m.queryParams ?? {}).flatMap(([name, value]) => {
    const match = stringMatch(value);
    return match ? [{ name, match }] : [{ name, match: { regex: '.*' } as StringMatchRule }];
  });
  const field = <K extends string>(key: K, value: IstioStringMatch | undefined) => {
    const match = stringMatch(value);
    return match ? ({ [key]: match } as Record<K, StringMatchRule>) : {};
  };
  return {
    ...field('uri', m.uri),
    ignoreUriCase: m.ignoreUriCase ?? false,
    ...field('method', m.method),
    ...field('authority', m.authority),
    ...field('scheme', m.scheme),
    headers,
    queryParams,
    ...defined('port', m.port),
    ...(m.sourceLabels ? { sourceLabels: m.sourceLabels } : {}),
    ...defined('sourceNamespace', m.sourceNamespace),
  };
}

function fault(f: NonNullable<Http['fault']>) {
  return {
    ...(f.delay ? { delay: { fixedDelayMs: parseDurationMs(f.delay.fixedDelay) ?? 0, percent: f.delay.percentage?.value ?? ALL } } : {}),
    ...(f.abort ? { abort: { ...defined('httpStatus', f.abort.httpStatus), ...defined('grpcStatus', f.abort.grpcStatus), percent: f.abort.percentage?.value ?? ALL } } : {}),
  };
}

function headerEdits(h: IstioHeaders): HeaderEdits | undefined {
  if (!h) return undefined;
  return { set: h.set ?? {}, add: h.add ?? {}, remove: h.remove ?? [] };
}

function headerEditsPair(h: { request?: IstioHeaders; response?: IstioHeaders }): { request?: HeaderEdits; response?: HeaderEdits } {
  const request = headerEdits(h.request);
  const response = headerEdits(h.response);
  return { ...(request ? { request } : {}), ...(response ? { response } : {}) };
}

function cors(c: NonNullable<Http['corsPolicy']>): CorsRule {
  return {
    allowOrigins: (c.allowOrigins ?? []).flatMap((o) => stringMatch(o) ?? []),
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    ...optionalMs('maxAgeMs', c.maxAge),
    ...defined('allowCredentials', c.allowCredentials),
  };
}

/** `{ [key]: value }` when the value is set, else nothing (for exactOptionalPropertyTypes). */
export function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

export function optionalMs<K extends string>(key: K, duration: string | undefined): { [P in K]?: number } {
  return defined(key, duration === undefined ? undefined : parseDurationMs(duration));
}
