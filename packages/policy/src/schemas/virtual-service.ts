/**
 * `networking.istio.io/v1` VirtualService, as the upstream reference documents it. Field
 * names and semantics are upstream's so users' YAML carries over; unknown fields are errors
 * (a misspelt `timout` silently ignored is a policy not applied).
 */
import { z } from 'zod';
import { duration, editableHeaderName, editedHeaders, positiveDuration, exportTo, hostName, labels, percent, portNumber, stringMatch } from './common.ts';

const destination = z.strictObject({
  host: hostName(),
  subset: z.string().min(1).optional(),
  port: z.strictObject({ number: portNumber }).optional(),
});

const headerOperations = z.strictObject({
  set: editedHeaders.optional(),
  add: editedHeaders.optional(),
  remove: z.array(editableHeaderName).optional(),
});
const headers = z.strictObject({ request: headerOperations.optional(), response: headerOperations.optional() });

const httpRouteDestination = z.strictObject({
  destination,
  weight: z.number().int().min(0).optional(),
  headers: headers.optional(),
});

const httpMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: stringMatch.optional(),
  scheme: stringMatch.optional(),
  method: stringMatch.optional(),
  authority: stringMatch.optional(),
  headers: z.record(z.string().min(1), stringMatch).optional(),
  port: portNumber.optional(),
  sourceLabels: labels.optional(),
  gateways: z.array(z.string().min(1)).optional(),
  queryParams: z.record(z.string().min(1), stringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(z.string().min(1), stringMatch).optional(),
  sourceNamespace: z.string().min(1).optional(),
  statPrefix: z.string().optional(),
});

const httpRedirect = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: portNumber.optional(),
  derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
  scheme: z.string().optional(),
  redirectCode: z.number().int().min(300).max(399).optional(),
});

const httpDirectResponse = z.strictObject({
  status: z.number().int().min(200).max(599),
  body: z.strictObject({ string: z.string().optional(), bytes: z.string().optional() }).optional(),
});

const httpRewrite = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: z.strictObject({ match: z.string().min(1), rewrite: z.string() }).optional(),
});

const httpRetry = z.strictObject({
  attempts: z.number().int().min(0),
  perTryTimeout: positiveDuration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
});

const httpFault = z
  .strictObject({
    delay: z.strictObject({ fixedDelay: positiveDuration, percentage: percent.optional() }).optional(),
    abort: z
      .strictObject({
        httpStatus: z.number().int().min(200).max(599).optional(),
        grpcStatus: z.string().min(1).optional(),
        http2Error: z.string().min(1).optional(),
        percentage: percent.optional(),
      })
      .superRefine((a, ctx) => {
        if ([a.httpStatus, a.grpcStatus, a.http2Error].filter((v) => v !== undefined).length !== 1) {
          ctx.addIssue({ code: 'custom', message: 'exactly one of httpStatus, grpcStatus or http2Error is required' });
        }
      })
      .optional(),
  })
  .superRefine((f, ctx) => {
    if (!f.delay && !f.abort) ctx.addIssue({ code: 'custom', message: 'fault needs delay or abort' });
  });

const corsPolicy = z.strictObject({
  allowOrigins: z.array(stringMatch).optional(),
  allowMethods: z.array(z.string().min(1)).optional(),
  allowHeaders: z.array(z.string().min(1)).optional(),
  exposeHeaders: z.array(z.string().min(1)).optional(),
  maxAge: duration.optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});

const httpRoute = z
  .strictObject({
    name: z.string().optional(),
    match: z.array(httpMatchRequest).optional(),
    route: z.array(httpRouteDestination).optional(),
    redirect: httpRedirect.optional(),
    directResponse: httpDirectResponse.optional(),
    delegate: z.strictObject({ name: z.string().min(1), namespace: z.string().min(1).optional() }).optional(),
    rewrite: httpRewrite.optional(),
    timeout: positiveDuration.optional(),
    retries: httpRetry.optional(),
    fault: httpFault.optional(),
    mirror: destination.optional(),
    mirrors: z.array(z.strictObject({ destination, percentage: percent.optional() })).optional(),
    mirrorPercentage: percent.optional(),
    corsPolicy: corsPolicy.optional(),
    headers: headers.optional(),
  })
  .superRefine((r, ctx) => {
    const actions = [r.route?.length ? 'route' : undefined, r.redirect && 'redirect', r.directResponse && 'directResponse', r.delegate && 'delegate'].filter(Boolean);
    if (actions.length === 0) ctx.addIssue({ code: 'custom', message: 'one of route, redirect, directResponse or delegate is required' });
    if (actions.length > 1) ctx.addIssue({ code: 'custom', message: `only one of route, redirect, directResponse and delegate may be set (got ${actions.join(', ')})` });
    if (r.mirror && r.mirrors) ctx.addIssue({ code: 'custom', message: 'mirror and mirrors cannot both be set', path: ['mirrors'] });
    if (r.rewrite?.uri !== undefined && r.rewrite.uriRegexRewrite) ctx.addIssue({ code: 'custom', message: 'uri and uriRegexRewrite cannot both be set', path: ['rewrite'] });
    if (r.redirect && r.rewrite) ctx.addIssue({ code: 'custom', message: 'rewrite cannot be combined with redirect', path: ['rewrite'] });
    checkWeights(r.route, ctx);
  });

/**
 * Weights are relative (`weight / sum` of a rule's destinations, upstream's semantics); with
 * several destinations they cannot all be 0, or the rule would send traffic nowhere.
 */
function checkWeights(route: ReadonlyArray<{ weight?: number | undefined }> | undefined, ctx: z.RefinementCtx): void {
  if (!route || route.length < 2) return;
  const total = route.reduce((sum, d) => sum + (d.weight ?? 0), 0);
  if (total === 0) ctx.addIssue({ code: 'custom', message: 'the weights of several destinations must not all be 0', path: ['route'] });
  if (total > 0xffffffff) ctx.addIssue({ code: 'custom', message: 'the weights add up to more than 2^32-1', path: ['route'] });
}

const routeDestination = z.strictObject({ destination, weight: z.number().int().min(0).optional() });

const l4Match = {
  destinationSubnets: z.array(z.string().min(1)).optional(),
  port: portNumber.optional(),
  sourceLabels: labels.optional(),
  gateways: z.array(z.string().min(1)).optional(),
  sourceNamespace: z.string().min(1).optional(),
};

const tcpRoute = z
  .strictObject({ match: z.array(z.strictObject(l4Match)).optional(), route: z.array(routeDestination).min(1, 'at least one route destination is required') })
  .superRefine((r, ctx) => checkWeights(r.route, ctx));

const tlsRoute = z
  .strictObject({
    match: z.array(z.strictObject({ ...l4Match, sniHosts: z.array(hostName({ allowAll: true })).min(1, 'sniHosts is required') })).min(1, 'at least one match is required'),
    route: z.array(routeDestination).min(1, 'at least one route destination is required'),
  })
  .superRefine((r, ctx) => checkWeights(r.route, ctx));

export const virtualServiceSpec = z
  .strictObject({
    hosts: z.array(hostName({ allowAll: true })).optional(),
    gateways: z.array(z.string().min(1)).optional(),
    http: z.array(httpRoute).optional(),
    tls: z.array(tlsRoute).optional(),
    tcp: z.array(tcpRoute).optional(),
    exportTo: exportTo.optional(),
  })
  .superRefine((vs, ctx) => {
    // A VirtualService with no hosts is only meaningful as a delegate, which has no gateways.
    if (!vs.hosts?.length && vs.gateways?.length) ctx.addIssue({ code: 'custom', message: 'hosts is required', path: ['hosts'] });
    const mesh = !vs.gateways?.length || vs.gateways.includes('mesh');
    if (mesh && vs.hosts?.includes('*')) {
      ctx.addIssue({ code: 'custom', message: 'the wildcard host * is not allowed for the mesh (sidecars and proxyless clients)', path: ['hosts', vs.hosts.indexOf('*')] });
    }
    if (!vs.http?.length && !vs.tls?.length && !vs.tcp?.length) ctx.addIssue({ code: 'custom', message: 'at least one of http, tls or tcp is required' });
  });

export type VirtualServiceSpec = z.infer<typeof virtualServiceSpec>;
