// Bearer-token authentication, shared by API requests and TokenReview so the two
// can never disagree about who a token belongs to.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { UserInfo } from './types.ts';

export interface TokenSpec {
  username: string;
  uid?: string;
  /** Defaults: service-account groups for `system:serviceaccount:<ns>:<sa>` names, else none. `system:authenticated` is always added. */
  groups?: readonly string[];
  /** A token with audiences only authenticates where one of them is accepted; without, it is a legacy token valid for the API audiences. */
  audiences?: readonly string[];
  /** Epoch ms or Date; past it the token is rejected. */
  expiresAt?: number | Date;
}

export type Authentication =
  | { ok: true; user: UserInfo; audiences: readonly string[] }
  | { ok: false; error: string };

export const ANONYMOUS: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The audiences of a default kube-apiserver, accepted for API requests and for reviews without spec.audiences. */
export const DEFAULT_API_AUDIENCES: readonly string[] = ['https://kubernetes.default.svc.cluster.local', 'https://kubernetes.default.svc'];

const SA_PREFIX = 'system:serviceaccount:';

function defaultGroups(username: string): string[] {
  if (!username.startsWith(SA_PREFIX)) return [];
  const ns = username.slice(SA_PREFIX.length).split(':')[0] ?? '';
  return ['system:serviceaccounts', `system:serviceaccounts:${ns}`];
}

export interface ServiceAccountTokenRequest {
  namespace: string;
  name: string;
  uid?: string;
  audiences?: readonly string[];
  expirationSeconds?: number;
}

export class TokenAuthenticator {
  readonly #tokens = new Map<string, TokenSpec>();
  readonly #apiAudiences: readonly string[];
  readonly #now: () => number;
  readonly #signingKey = randomBytes(32);
  readonly #issuer: string;

  constructor(options: { tokens?: Readonly<Record<string, TokenSpec>>; apiAudiences?: readonly string[]; issuer?: string; now?: () => number }) {
    for (const [token, spec] of Object.entries(options.tokens ?? {})) this.#tokens.set(token, spec);
    this.#apiAudiences = options.apiAudiences ?? DEFAULT_API_AUDIENCES;
    this.#issuer = options.issuer ?? 'https://kubernetes.default.svc.cluster.local';
    this.#now = options.now ?? Date.now;
  }

  get apiAudiences(): readonly string[] {
    return this.#apiAudiences;
  }

  get size(): number {
    return this.#tokens.size;
  }

  add(token: string, spec: TokenSpec): void {
    this.#tokens.set(token, spec);
  }

  remove(token: string): boolean {
    return this.#tokens.delete(token);
  }

  /**
   * Resolves a token for the given audiences (the API's own when empty), as the
   * API server does both for its requests and for TokenReview.
   */
  authenticate(token: string, audiences: readonly string[] = []): Authentication {
    const spec = this.#tokens.get(token);
    if (spec === undefined) return { ok: false, error: 'invalid bearer token' };
    const expiresAt = spec.expiresAt instanceof Date ? spec.expiresAt.getTime() : spec.expiresAt;
    if (expiresAt !== undefined && expiresAt <= this.#now()) return { ok: false, error: 'invalid bearer token, token has expired' };
    const wanted = audiences.length > 0 ? audiences : this.#apiAudiences;
    const tokenAudiences = spec.audiences ?? this.#apiAudiences;
    const granted = wanted.filter((a) => tokenAudiences.includes(a));
    if (granted.length === 0) return { ok: false, error: 'invalid bearer token, token audiences is invalid for the target audiences' };
    const groups = [...(spec.groups ?? defaultGroups(spec.username))];
    if (!groups.includes('system:authenticated')) groups.push('system:authenticated');
    return { ok: true, user: { username: spec.username, ...(spec.uid !== undefined ? { uid: spec.uid } : {}), groups }, audiences: granted };
  }

  /**
   * Mints a bound service-account token (a JWT in the shape the kubelet would get)
   * and registers it, so this server accepts it afterwards. The signature is an
   * HMAC with a per-server key: good enough to look real, not meant to be verified.
   */
  issueServiceAccountToken(req: ServiceAccountTokenRequest): { token: string; expiresAt: Date; audiences: readonly string[] } {
    const nowSec = Math.floor(this.#now() / 1000);
    const exp = nowSec + Math.max(600, req.expirationSeconds ?? 3600);
    const audiences = req.audiences && req.audiences.length > 0 ? req.audiences : this.#apiAudiences;
    const uid = req.uid ?? randomUUID();
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = b64({ alg: 'HS256', kid: 'meridian-testkit', typ: 'JWT' });
    const payload = b64({
      aud: audiences,
      exp,
      iat: nowSec,
      nbf: nowSec,
      iss: this.#issuer,
      jti: randomUUID(),
      sub: `${SA_PREFIX}${req.namespace}:${req.name}`,
      'kubernetes.io': { namespace: req.namespace, serviceaccount: { name: req.name, uid } },
    });
    const signature = createHmac('sha256', this.#signingKey).update(`${header}.${payload}`).digest('base64url');
    const token = `${header}.${payload}.${signature}`;
    this.#tokens.set(token, {
      username: `${SA_PREFIX}${req.namespace}:${req.name}`,
      uid,
      audiences,
      expiresAt: exp * 1000,
    });
    return { token, expiresAt: new Date(exp * 1000), audiences };
  }
}

/** The token of an `Authorization: Bearer …` header, '' when there is none. */
export function bearerToken(header: string | undefined): string {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m?.[1]?.trim() ?? '';
}
