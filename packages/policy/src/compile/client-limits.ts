/**
 * What each kind of client honours of the compiled model. Envoy honours all of it. Proxyless
 * gRPC honours what its xDS gRFCs define: A28 routing (path and header matches, weighted
 * clusters), A31 timeouts, A33 fault injection, A42 ring hash on headers, A44 retries on gRPC
 * status codes, A32 circuit breaking on max requests; grpc-js-xds rejects redirects and other
 * non-forwarding actions, LEAST_REQUEST and MAGLEV, and ignores header edits, mirroring, CORS
 * and outlier detection by consecutive errors. Where ignoring a field would make a rule match
 * or send more than written, the rule is not for that client (`omit`); where the client
 * would only do less (no mirror, no extra header), the rest applies (`ignored`).
 */
import { GRPC_RETRY_CONDITIONS, type ClientLimits, type ClusterPolicy, type HttpRouteRule } from '@meridian/model';


function limits(omit: string[], ignored: string[], envoyIgnored: string[] = []): Partial<Record<'grpc' | 'envoy', ClientLimits>> {
  return {
    ...(omit.length || ignored.length ? { grpc: { omit, ignored } } : {}),
    ...(envoyIgnored.length ? { envoy: { omit: [], ignored: envoyIgnored } } : {}),
  };
}

/** Not compiled for Envoy yet: reported so that nothing is shown applied that is not. */
const NOT_YET_FOR_ENVOY = 'not compiled for Envoy yet';

export function httpRuleLimits(rule: Omit<HttpRouteRule, 'limits'>): HttpRouteRule['limits'] {
  const omit: string[] = [];
  const ignored: string[] = [];
  rule.matches.forEach((m, i) => {
    const at = `match[${i}]`;
    if (m.queryParams.length) omit.push(`${at}.queryParams: gRPC has no query parameters; the rule would match every request`);
    for (const field of ['method', 'authority', 'scheme'] as const) {
      if (m[field]) omit.push(`${at}.${field}: gRPC routes match on path and headers only`);
    }
  });
  if (rule.action.type === 'redirect') omit.push('redirect: gRPC clients reject redirects');
  if (rule.action.type === 'respond') omit.push('directResponse: gRPC clients reject non-forwarding routes');
  if (rule.rewrite) omit.push('rewrite: gRPC clients do not rewrite; requests would reach the method as called');
  if (rule.mirrors.length) ignored.push('mirror: gRPC clients do not mirror');
  const targetHeaders = rule.action.type === 'forward' && rule.action.targets.some((t) => t.headers);
  if (rule.headers || targetHeaders) ignored.push('headers: gRPC clients do not edit headers');
  if (rule.cors) ignored.push('corsPolicy: a browser concern, not gRPC');
  if (rule.retries) {
    if (rule.retries.perTryTimeoutMs !== undefined) ignored.push('retries.perTryTimeout: gRPC retries have no per-try timeout');
    const conditions = (rule.retries.retryOn ?? '').split(',').map((c) => c.trim()).filter(Boolean);
    const http = conditions.filter((c) => !GRPC_RETRY_CONDITIONS.has(c));
    if (http.length === conditions.length && http.length > 0) ignored.push(`retries: none of retryOn (${http.join(', ')}) is a gRPC status condition; gRPC clients do not retry`);
    else if (http.length) ignored.push(`retries.retryOn: not gRPC status conditions: ${http.join(', ')}`);
  }
  return limits(omit, ignored);
}

export function clusterPolicyLimits(policy: Omit<ClusterPolicy, 'limits'>): ClusterPolicy['limits'] {
  const omit: string[] = [];
  const ignored: string[] = [];
  const lb = policy.loadBalancer;
  if (lb?.type === 'simple' && lb.algorithm !== 'ROUND_ROBIN') omit.push(`loadBalancer.simple: gRPC clients do not support ${lb.algorithm}; they keep round robin`);
  if (lb?.type === 'hash') {
    if (lb.ring === 'maglev') omit.push('loadBalancer.consistentHash.maglev: gRPC clients support ring hash only');
    if (!('header' in lb.key)) omit.push('loadBalancer.consistentHash: gRPC clients hash on a header only');
  }
  if (policy.outlierDetection) ignored.push('outlierDetection: gRPC clients eject by success rate or failure percentage only, not by consecutive errors');
  const pool = policy.connectionPool;
  if (pool) {
    const others = Object.keys(pool).filter((k) => k !== 'maxRequests');
    if (others.length) ignored.push(`connectionPool: gRPC clients honour http2MaxRequests only (not ${others.join(', ')})`);
  }
  if (policy.tlsMode === 'SIMPLE' || policy.tlsMode === 'MUTUAL') omit.push(`tls.mode ${policy.tlsMode}: gRPC clients here use mesh mTLS or plaintext only`);
  // Both kinds of client get the same priorities (EDS): what is not applied is not, for either.
  const locality = localityNotApplied(policy.locality);
  ignored.push(...locality);
  const envoyIgnored = [
    ...locality,
    ...(policy.tlsMode === 'SIMPLE' || policy.tlsMode === 'MUTUAL' ? [`tls.mode ${policy.tlsMode}: ${NOT_YET_FOR_ENVOY}; the mesh's mTLS setting applies`] : []),
    ...(lb?.type === 'simple' && lb.algorithm === 'PASSTHROUGH' ? [`loadBalancer.simple PASSTHROUGH: ${NOT_YET_FOR_ENVOY}; round robin applies`] : []),
  ];
  return limits(omit, ignored, envoyIgnored);
}

/** The parts of a localityLbSetting no client is given (see xds `locality-rule.ts`). */
function localityNotApplied(rule: ClusterPolicy['locality']): string[] {
  if (!rule) return [];
  return [
    ...(rule.failoverPriority.some((l) => l.includes('=')) ? ['loadBalancer.localityLbSetting.failoverPriority: a label=value override compares the proxy\'s own value instead'] : []),
  ];
}
