import { CaError, CaErrorCode } from '../errors.ts';
import { DEFAULT_TOKEN_AUDIENCES } from './kube-token.ts';
import { decodeJws, parseJwks, verifyJws, type VerificationKey } from './jws.ts';
import { AuthMethod, authFailure, bearerToken, parseServiceAccountUser, type AuthContext, type AuthResult, type Authenticator } from './types.ts';

export interface JwtIssuerConfig {
  /** Must equal the token's `iss` exactly. */
  readonly issuer: string;
  /** The issuer's parsed JWKS document (read from a file or inline by the caller). */
  readonly jwks: unknown;
  /** Overrides the authenticator's audiences for this issuer. */
  readonly audiences?: readonly string[];
  /** Reported as the identity's cluster (e.g. a VM group's name); none by default. */
  readonly cluster?: string;
}

export interface JwtAuthenticatorOptions {
  readonly issuers: readonly JwtIssuerConfig[];
  /** `aud` must include one of these. Default `["istio-ca"]`. */
  readonly audiences?: readonly string[];
  /** Tolerance for `exp`, `nbf` and `iat` against our clock. Default 60 s. */
  readonly clockSkewSeconds?: number;
  readonly clock?: () => number;
}

interface Issuer {
  readonly issuer: string;
  readonly keys: readonly VerificationKey[];
  readonly audiences: readonly string[];
  readonly cluster?: string;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * The workload a token names: the `kubernetes.io` claim of projected service-account tokens,
 * else a `sub` of the form `system:serviceaccount:<ns>:<sa>`. When both are present they must agree.
 */
export function serviceAccountOfClaims(claims: Readonly<Record<string, unknown>>): { namespace: string; serviceAccount: string } | string {
  const sub = typeof claims['sub'] === 'string' ? parseServiceAccountUser(claims['sub']) : undefined;
  const k8s = record(claims['kubernetes.io']);
  if (k8s !== undefined) {
    const namespace = k8s['namespace'];
    const name = record(k8s['serviceaccount'])?.['name'];
    if (typeof namespace !== 'string' || namespace === '' || typeof name !== 'string' || name === '') {
      return 'the "kubernetes.io" claim lacks namespace or serviceaccount.name';
    }
    if (sub !== undefined && (sub.namespace !== namespace || sub.serviceAccount !== name)) {
      return '"sub" and the "kubernetes.io" claim name different service accounts';
    }
    return { namespace, serviceAccount: name };
  }
  return sub ?? `"sub" ${JSON.stringify(claims['sub'])} is not system:serviceaccount:<ns>:<sa>`;
}

/** Tokens from configured issuers, verified locally against their JWKS: no API round trip. */
export class JwtAuthenticator implements Authenticator {
  readonly method = AuthMethod.Jwt;
  readonly #issuers: ReadonlyMap<string, Issuer>;
  readonly #skewMs: number;
  readonly #clock: () => number;

  /** Throws CA_ERR_CONFIG for an unusable JWKS: a configuration mistake should stop start-up. */
  constructor(options: JwtAuthenticatorOptions) {
    const issuers = new Map<string, Issuer>();
    for (const cfg of options.issuers) {
      const jwks = parseJwks(cfg.jwks);
      if (!jwks.ok) throw new CaError(CaErrorCode.Config, `JWT issuer "${cfg.issuer}": ${jwks.reason}`);
      const audiences = cfg.audiences ?? options.audiences ?? DEFAULT_TOKEN_AUDIENCES;
      if (audiences.length === 0) throw new CaError(CaErrorCode.Config, `JWT issuer "${cfg.issuer}": no audiences`);
      if (issuers.has(cfg.issuer)) throw new CaError(CaErrorCode.Config, `JWT issuer "${cfg.issuer}" configured twice`);
      issuers.set(cfg.issuer, { issuer: cfg.issuer, keys: jwks.keys, audiences, ...(cfg.cluster === undefined ? {} : { cluster: cfg.cluster }) });
    }
    this.#issuers = issuers;
    this.#skewMs = (options.clockSkewSeconds ?? 60) * 1000;
    this.#clock = options.clock ?? Date.now;
  }

  /** True when the token claims one of our issuers (unverified): lets a caller route tokens without a round trip. */
  claimsIssuer(token: string): boolean {
    const decoded = decodeJws(token);
    return decoded.ok && typeof decoded.jws.claims['iss'] === 'string' && this.#issuers.has(decoded.jws.claims['iss']);
  }

  async authenticate(ctx: AuthContext): Promise<AuthResult> {
    const token = bearerToken(ctx.metadata);
    if (token === undefined) return authFailure('UNAUTHENTICATED', 'no bearer token');
    return this.verify(token);
  }

  /** Checks one token; exposed for tools that hold a token outside any gRPC call. */
  verify(token: string): AuthResult {
    const decoded = decodeJws(token);
    if (!decoded.ok) return authFailure('UNAUTHENTICATED', decoded.reason);
    const { claims } = decoded.jws;
    const iss = claims['iss'];
    const issuer = typeof iss === 'string' ? this.#issuers.get(iss) : undefined;
    if (issuer === undefined) return authFailure('UNAUTHENTICATED', `issuer ${JSON.stringify(iss)} is not configured`);
    if (!verifyJws(decoded.jws, issuer.keys)) return authFailure('UNAUTHENTICATED', `issuer "${issuer.issuer}": signature does not verify`);

    const now = this.#clock();
    const exp = claims['exp'];
    if (typeof exp !== 'number') return authFailure('UNAUTHENTICATED', 'token has no numeric "exp"');
    if (now >= exp * 1000 + this.#skewMs) return authFailure('UNAUTHENTICATED', `token expired at ${new Date(exp * 1000).toISOString()}`);
    const nbf = claims['nbf'];
    if (nbf !== undefined && (typeof nbf !== 'number' || now < nbf * 1000 - this.#skewMs)) {
      return authFailure('UNAUTHENTICATED', 'token is not valid yet ("nbf")');
    }
    const iat = claims['iat'];
    if (iat !== undefined && (typeof iat !== 'number' || now < iat * 1000 - this.#skewMs)) {
      return authFailure('UNAUTHENTICATED', 'token was issued in the future ("iat")');
    }
    const aud = claims['aud'];
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
    if (!audiences.some((a) => issuer.audiences.includes(a))) {
      return authFailure('UNAUTHENTICATED', `token audiences ${JSON.stringify(audiences)} do not include ${issuer.audiences.join(', ')}`);
    }
    const sa = serviceAccountOfClaims(claims);
    if (typeof sa === 'string') return authFailure('PERMISSION_DENIED', `issuer "${issuer.issuer}": ${sa}`);
    return { ok: true, identity: { ...sa, ...(issuer.cluster === undefined ? {} : { cluster: issuer.cluster }), via: AuthMethod.Jwt } };
  }
}
