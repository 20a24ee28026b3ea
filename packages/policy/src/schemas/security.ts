/**
 * `security.istio.io/v1` PeerAuthentication, AuthorizationPolicy and RequestAuthentication,
 * as the upstream reference documents them.
 */
import { z } from 'zod';
import { duration, ipOrCidr, nonEmptyStrings, workloadSelector } from './common.ts';

const mtlsMode = z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

export const peerAuthenticationSpec = z
  .strictObject({
    selector: workloadSelector.optional(),
    mtls: z.strictObject({ mode: mtlsMode.optional() }).optional(),
    portLevelMtls: z.record(z.string().regex(/^\d{1,5}$/, 'a port number'), z.strictObject({ mode: mtlsMode.optional() })).optional(),
  })
  .superRefine((pa, ctx) => {
    // Upstream: port-level settings need a workload, since ports are the workload's own.
    if (pa.portLevelMtls && !Object.keys(pa.selector?.matchLabels ?? {}).length) {
      ctx.addIssue({ code: 'custom', message: 'portLevelMtls requires a selector with matchLabels', path: ['portLevelMtls'] });
    }
    for (const port of Object.keys(pa.portLevelMtls ?? {})) {
      const n = Number(port);
      if (n < 1 || n > 65535) ctx.addIssue({ code: 'custom', message: 'port must be 1 to 65535', path: ['portLevelMtls', port] });
    }
  });

const targetRef = z.strictObject({
  group: z.string().optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().optional(),
});

const source = z
  .strictObject({
    principals: nonEmptyStrings().optional(),
    notPrincipals: nonEmptyStrings().optional(),
    requestPrincipals: nonEmptyStrings().optional(),
    notRequestPrincipals: nonEmptyStrings().optional(),
    namespaces: nonEmptyStrings().optional(),
    notNamespaces: nonEmptyStrings().optional(),
    ipBlocks: z.array(ipOrCidr).optional(),
    notIpBlocks: z.array(ipOrCidr).optional(),
    remoteIpBlocks: z.array(ipOrCidr).optional(),
    notRemoteIpBlocks: z.array(ipOrCidr).optional(),
  })
  .superRefine((s, ctx) => {
    if (Object.values(s).every((v) => v === undefined || v.length === 0)) ctx.addIssue({ code: 'custom', message: 'a source needs at least one field' });
  });

const portString = z.string().regex(/^\d{1,5}$/, 'a port number').refine((p) => Number(p) >= 1 && Number(p) <= 65535, 'port must be 1 to 65535');

const operation = z
  .strictObject({
    hosts: nonEmptyStrings().optional(),
    notHosts: nonEmptyStrings().optional(),
    ports: z.array(portString).optional(),
    notPorts: z.array(portString).optional(),
    methods: nonEmptyStrings().optional(),
    notMethods: nonEmptyStrings().optional(),
    paths: nonEmptyStrings().optional(),
    notPaths: nonEmptyStrings().optional(),
  })
  .superRefine((o, ctx) => {
    if (Object.values(o).every((v) => v === undefined || v.length === 0)) ctx.addIssue({ code: 'custom', message: 'an operation needs at least one field' });
  });

/**
 * The condition keys upstream documents for `when`. A key outside this list is an error here:
 * upstream's proxies would treat it as never matching, and a DENY that never matches is a
 * policy that fails open.
 */
const CONDITION_KEYS = [
  /^request\.headers\[[^\]]+\]$/,
  /^source\.ip$/,
  /^remote\.ip$/,
  /^source\.namespace$/,
  /^source\.principal$/,
  /^request\.auth\.principal$/,
  /^request\.auth\.audiences$/,
  /^request\.auth\.presenter$/,
  /^request\.auth\.claims\[[^\]]+\](\[[^\]]+\])*$/,
  /^destination\.ip$/,
  /^destination\.port$/,
  /^connection\.sni$/,
  /^experimental\.envoy\.filters\..+$/,
];

const condition = z
  .strictObject({ key: z.string().min(1), values: nonEmptyStrings().optional(), notValues: nonEmptyStrings().optional() })
  .superRefine((c, ctx) => {
    if (!CONDITION_KEYS.some((k) => k.test(c.key))) ctx.addIssue({ code: 'custom', message: `unknown condition key ${JSON.stringify(c.key)}`, path: ['key'] });
    if (!c.values?.length && !c.notValues?.length) ctx.addIssue({ code: 'custom', message: 'values or notValues is required' });
  });

export const authorizationPolicySpec = z
  .strictObject({
    selector: workloadSelector.optional(),
    targetRef: targetRef.optional(),
    targetRefs: z.array(targetRef).optional(),
    rules: z
      .array(
        z.strictObject({
          from: z.array(z.strictObject({ source })).optional(),
          to: z.array(z.strictObject({ operation })).optional(),
          when: z.array(condition).optional(),
        }),
      )
      .optional(),
    action: z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']).optional(),
    provider: z.strictObject({ name: z.string().min(1) }).optional(),
  })
  .superRefine((ap, ctx) => {
    if (ap.selector && (ap.targetRef || ap.targetRefs)) ctx.addIssue({ code: 'custom', message: 'selector and targetRef(s) cannot both be set', path: ['selector'] });
    if (ap.targetRef && ap.targetRefs) ctx.addIssue({ code: 'custom', message: 'targetRef and targetRefs cannot both be set', path: ['targetRefs'] });
    if (ap.action === 'CUSTOM' && !ap.provider) ctx.addIssue({ code: 'custom', message: 'action CUSTOM needs a provider', path: ['provider'] });
    if (ap.provider && ap.action !== 'CUSTOM') ctx.addIssue({ code: 'custom', message: 'provider is only for action CUSTOM', path: ['provider'] });
  });

const jwtHeader = z.strictObject({ name: z.string().min(1), prefix: z.string().optional() });

export const requestAuthenticationSpec = z
  .strictObject({
    selector: workloadSelector.optional(),
    targetRef: targetRef.optional(),
    targetRefs: z.array(targetRef).optional(),
    jwtRules: z
      .array(
        z
          .strictObject({
            issuer: z.string().min(1),
            audiences: nonEmptyStrings().optional(),
            jwksUri: z.url({ protocol: /^https?$/ }).optional(),
            jwks: z.string().min(1).optional(),
            fromHeaders: z.array(jwtHeader).optional(),
            fromParams: nonEmptyStrings().optional(),
            fromCookies: nonEmptyStrings().optional(),
            outputPayloadToHeader: z.string().optional(),
            forwardOriginalToken: z.boolean().optional(),
            outputClaimToHeaders: z.array(z.strictObject({ header: z.string().min(1), claim: z.string().min(1) })).optional(),
            timeout: duration.optional(),
          })
          .superRefine((r, ctx) => {
            if (r.jwks && r.jwksUri) ctx.addIssue({ code: 'custom', message: 'jwks and jwksUri cannot both be set' });
            if (r.jwks) {
              try {
                const parsed = JSON.parse(r.jwks) as { keys?: unknown };
                if (!Array.isArray(parsed.keys)) throw new Error('no keys array');
              } catch (err) {
                ctx.addIssue({ code: 'custom', message: `jwks is not a JSON Web Key Set: ${err instanceof Error ? err.message : String(err)}`, path: ['jwks'] });
              }
            }
          }),
      )
      .optional(),
  })
  .superRefine((ra, ctx) => {
    if (ra.selector && (ra.targetRef || ra.targetRefs)) ctx.addIssue({ code: 'custom', message: 'selector and targetRef(s) cannot both be set', path: ['selector'] });
    const issuers = new Set<string>();
    ra.jwtRules?.forEach((r, i) => {
      if (issuers.has(r.issuer)) ctx.addIssue({ code: 'custom', message: `issuer ${r.issuer} has two rules`, path: ['jwtRules', i, 'issuer'] });
      issuers.add(r.issuer);
    });
  });

export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpec>;
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpec>;
export type RequestAuthenticationSpec = z.infer<typeof requestAuthenticationSpec>;
