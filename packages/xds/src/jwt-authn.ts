/**
 * RequestAuthentication compiled to Envoy's JWT filter (`envoy.filters.http.jwt_authn`), with
 * Istio's semantics: a request carrying a token that no provider validates is refused with
 * 401; a request without one passes, with no request principal, for the RBAC stages after it
 * to decide (`requires_any` of every provider and `allow_missing`). The validated payload is
 * left in the request's dynamic metadata under `payload`, where RBAC reads `iss`, `sub` and
 * claims (`rbac.ts`).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { JwtRule, RequestAuthn } from '@meridian/model';

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
/** Where each provider leaves a validated token's payload in the filter's metadata. */
export const JWT_PAYLOAD_KEY = 'payload';

/** Where a `jwksUri`'s keys come from: Meridian fetches them (as istiod does) and inlines them. */
export type JwksSource = (uri: string) => string | undefined;

/**
 * Keys nobody holds the private half of: what a provider gets while its `jwksUri` has not
 * been fetched, so its tokens are refused rather than let through unchecked.
 */
let unusableJwks: string | undefined;
export function unusableKeySet(): string {
  unusableJwks ??= JSON.stringify({ keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'meridian-unfetched', use: 'sig', alg: 'ES256' }] });
  return unusableJwks;
}

/** The issuers the workload's RequestAuthentications accept, sorted, once each. */
export function jwtIssuers(policies: readonly RequestAuthn[]): string[] {
  return [...new Set(policies.flatMap((p) => p.rules.map((r) => r.issuer)))].sort();
}

/** The filter for a workload's RequestAuthentications; `undefined` when none has a rule. */
export function jwtAuthnFilter(policies: readonly RequestAuthn[], jwks: JwksSource): object | undefined {
  const providers: Record<string, object> = {};
  for (const p of policies) {
    p.rules.forEach((rule, i) => {
      providers[`${p.source.namespace}/${p.source.name}/${i}`] = provider(rule, jwks);
    });
  }
  const names = Object.keys(providers);
  if (names.length === 0) return undefined;
  return {
    name: JWT_AUTHN_FILTER,
    typed_config: {
      '@type': JWT_AUTHN_TYPE,
      providers,
      rules: [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [...names.map((provider_name) => ({ provider_name })), { allow_missing: {} }] } } }],
    },
  };
}

function provider(rule: JwtRule, jwks: JwksSource): object {
  const keys = 'inline' in rule.jwks ? rule.jwks.inline : (jwks(rule.jwks.uri) ?? unusableKeySet());
  return {
    issuer: rule.issuer,
    ...(rule.audiences.length ? { audiences: rule.audiences } : {}),
    local_jwks: { inline_string: keys },
    ...(rule.fromHeaders.length ? { from_headers: rule.fromHeaders.map((h) => ({ name: h.name, ...(h.prefix ? { value_prefix: h.prefix } : {}) })) } : {}),
    ...(rule.fromParams.length ? { from_params: rule.fromParams } : {}),
    ...(rule.fromCookies.length ? { from_cookies: rule.fromCookies } : {}),
    forward: rule.forwardOriginalToken,
    ...(rule.outputPayloadToHeader ? { forward_payload_header: rule.outputPayloadToHeader } : {}),
    ...(rule.outputClaimToHeaders.length ? { claim_to_headers: rule.outputClaimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim })) } : {}),
    payload_in_metadata: JWT_PAYLOAD_KEY,
  };
}
