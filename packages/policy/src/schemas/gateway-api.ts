/**
 * Gateway API `gateway.networking.k8s.io/v1` HTTPRoute and GRPCRoute, as the upstream
 * specification defines them (the mesh profile: a parent may be a Service).
 */
import { z } from 'zod';
import { duration, editableHeaderName, hostName, portNumber, re2Regex } from './common.ts';

const parentRef = z.strictObject({
  group: z.string().optional(),
  kind: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  name: z.string().min(1),
  sectionName: z.string().min(1).optional(),
  port: portNumber.optional(),
});

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, 'an HTTP header name');

const headerMatch = z
  .strictObject({ type: z.enum(['Exact', 'RegularExpression']).optional(), name: headerName, value: z.string() })
  .superRefine((m, ctx) => regexValue(m.type, m.value, ctx));

function regexValue(type: string | undefined, value: string, ctx: z.RefinementCtx): void {
  if (type !== 'RegularExpression') return;
  const result = re2Regex.safeParse(value);
  if (!result.success) ctx.addIssue({ code: 'custom', message: result.error.issues[0]?.message ?? 'invalid regex', path: ['value'] });
}

const modifiedHeader = headerName.pipe(editableHeaderName);
const headerModifier = z.strictObject({
  set: z.array(z.strictObject({ name: modifiedHeader, value: z.string() })).optional(),
  add: z.array(z.strictObject({ name: modifiedHeader, value: z.string() })).optional(),
  remove: z.array(modifiedHeader).optional(),
});

const backendObjectRef = {
  group: z.string().optional(),
  kind: z.string().min(1).optional(),
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  port: portNumber.optional(),
};

function checkServicePort(ref: { group?: string | undefined; kind?: string | undefined; port?: number | undefined }, ctx: z.RefinementCtx): void {
  const service = (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service';
  if (service && ref.port === undefined) ctx.addIssue({ code: 'custom', message: 'port is required when the backend is a Service', path: ['port'] });
}

const mirror = z.strictObject({
  backendRef: z.strictObject(backendObjectRef).superRefine(checkServicePort),
  percent: z.number().int().min(0).max(100).optional(),
  fraction: z.strictObject({ numerator: z.number().int().min(0), denominator: z.number().int().min(1).optional() }).optional(),
});

const pathModifier = z
  .strictObject({ type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch']), replaceFullPath: z.string().optional(), replacePrefixMatch: z.string().optional() })
  .superRefine((p, ctx) => {
    const value = p.type === 'ReplaceFullPath' ? p.replaceFullPath : p.replacePrefixMatch;
    if (value === undefined) ctx.addIssue({ code: 'custom', message: `${p.type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch'} is required for type ${p.type}` });
  });

const FILTER_FIELD = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
} as const;

function filterSchema(types: ReadonlyArray<keyof typeof FILTER_FIELD>) {
  return z
    .strictObject({
      type: z.enum(types as [keyof typeof FILTER_FIELD, ...Array<keyof typeof FILTER_FIELD>]),
      requestHeaderModifier: headerModifier.optional(),
      responseHeaderModifier: headerModifier.optional(),
      requestMirror: mirror.optional(),
      requestRedirect: z
        .strictObject({
          scheme: z.enum(['http', 'https']).optional(),
          hostname: hostName().optional(),
          path: pathModifier.optional(),
          port: portNumber.optional(),
          statusCode: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).optional(),
        })
        .optional(),
      urlRewrite: z.strictObject({ hostname: hostName().optional(), path: pathModifier.optional() }).optional(),
      extensionRef: z.strictObject({ group: z.string(), kind: z.string().min(1), name: z.string().min(1) }).optional(),
    })
    .superRefine((f, ctx) => {
      // The field named by `type` is set, and no other (the upstream CEL rules).
      const want = FILTER_FIELD[f.type];
      for (const field of Object.values(FILTER_FIELD)) {
        const set = f[field] !== undefined;
        if (field === want && !set) ctx.addIssue({ code: 'custom', message: `${field} is required for type ${f.type}`, path: [field] });
        if (field !== want && set) ctx.addIssue({ code: 'custom', message: `${field} must not be set for type ${f.type}`, path: [field] });
      }
    });
}

const httpFilter = filterSchema(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef']);
const grpcFilter = filterSchema(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef']);

function backendRef<F extends z.ZodType>(filter: F) {
  return z
    .strictObject({ ...backendObjectRef, weight: z.number().int().min(0).max(1_000_000).optional(), filters: z.array(filter).optional() })
    .superRefine(checkServicePort);
}

const httpPathMatch = z
  .strictObject({ type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).optional(), value: z.string().optional() })
  .superRefine((p, ctx) => {
    const value = p.value ?? '/';
    if (p.type !== 'RegularExpression' && !value.startsWith('/')) ctx.addIssue({ code: 'custom', message: 'must start with /', path: ['value'] });
    regexValue(p.type, value, ctx);
  });

const httpRouteRule = z
  .strictObject({
    name: z.string().min(1).optional(),
    matches: z
      .array(
        z.strictObject({
          path: httpPathMatch.optional(),
          headers: z.array(headerMatch).optional(),
          queryParams: z.array(headerMatch.safeExtend({ name: z.string().min(1) })).optional(),
          method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']).optional(),
        }),
      )
      .max(64)
      .optional(),
    filters: z.array(httpFilter).max(16).optional(),
    backendRefs: z.array(backendRef(httpFilter)).max(16).optional(),
    timeouts: z.strictObject({ request: duration.optional(), backendRequest: duration.optional() }).optional(),
    retry: z.strictObject({ codes: z.array(z.number().int().min(400).max(599)).optional(), attempts: z.number().int().min(0).optional(), backoff: duration.optional() }).optional(),
  })
  .superRefine((rule, ctx) => {
    const kinds = new Set(rule.filters?.map((f) => f.type));
    if (kinds.has('RequestRedirect') && kinds.has('URLRewrite')) ctx.addIssue({ code: 'custom', message: 'RequestRedirect and URLRewrite cannot both be used', path: ['filters'] });
    if (kinds.has('RequestRedirect') && rule.backendRefs?.length) ctx.addIssue({ code: 'custom', message: 'a rule with RequestRedirect has no backendRefs', path: ['backendRefs'] });
  });

const grpcRouteRule = z.strictObject({
  name: z.string().min(1).optional(),
  matches: z
    .array(
      z.strictObject({
        method: z
          .strictObject({ type: z.enum(['Exact', 'RegularExpression']).optional(), service: z.string().min(1).optional(), method: z.string().min(1).optional() })
          .superRefine((m, ctx) => {
            if (!m.service && !m.method) ctx.addIssue({ code: 'custom', message: 'service or method is required' });
            if (m.type === 'RegularExpression') {
              for (const field of ['service', 'method'] as const) {
                const value = m[field];
                if (value !== undefined) {
                  const result = re2Regex.safeParse(value);
                  if (!result.success) ctx.addIssue({ code: 'custom', message: result.error.issues[0]?.message ?? 'invalid regex', path: [field] });
                }
              }
            }
          })
          .optional(),
        headers: z.array(headerMatch).optional(),
      }),
    )
    .max(64)
    .optional(),
  filters: z.array(grpcFilter).max(16).optional(),
  backendRefs: z.array(backendRef(grpcFilter)).max(16).optional(),
});

const routeCommon = {
  parentRefs: z.array(parentRef).min(1, 'at least one parentRef is required').max(32),
  hostnames: z.array(hostName()).max(16).optional(),
};

export const httpRouteSpec = z.strictObject({ ...routeCommon, rules: z.array(httpRouteRule).max(16).optional() });
export const grpcRouteSpec = z.strictObject({ ...routeCommon, rules: z.array(grpcRouteRule).max(16).optional() });

export type HttpRouteSpec = z.infer<typeof httpRouteSpec>;
export type GrpcRouteSpec = z.infer<typeof grpcRouteSpec>;
