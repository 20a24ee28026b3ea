/** How a caller proved who it is; also a metric and log label. */
export const AuthMethod = {
  ClientCert: 'client-cert',
  Jwt: 'jwt',
  KubeToken: 'kube-token',
} as const;
export type AuthMethod = (typeof AuthMethod)[keyof typeof AuthMethod];

/** A workload the caller proved to be. */
export interface CallerIdentity {
  /** Known only when the credential names it (an SVID does; a service-account token does not). */
  readonly trustDomain?: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The cluster whose API vouched for the token, when one did. */
  readonly cluster?: string;
  readonly via: AuthMethod;
}

export type AuthFailureCode = 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'UNAVAILABLE';

/**
 * Expected outcomes are values. `reason` is for logs only: it may name tokens' claims or
 * clusters, so it must never be sent back to the caller.
 */
export type AuthResult =
  | { readonly ok: true; readonly identity: CallerIdentity }
  | { readonly ok: false; readonly code: AuthFailureCode; readonly reason: string };

/** The part of grpc-js `Metadata` authenticators read; a plain `grpc.Metadata` fits. */
export interface MetadataReader {
  get(key: string): readonly (string | Uint8Array)[];
}

export interface AuthContext {
  readonly metadata: MetadataReader;
  /**
   * DER of the TLS client certificate, present only when the TLS layer already verified it
   * against the server's configured CA (grpc-js reports nothing for unverified peers).
   */
  readonly peerCertificateDer?: Uint8Array;
}

/** One way of proving identity. Must not throw: infrastructure failures are UNAVAILABLE results. */
export interface Authenticator {
  readonly method: AuthMethod;
  authenticate(ctx: AuthContext): Promise<AuthResult>;
}

export function authFailure(code: AuthFailureCode, reason: string): AuthResult {
  return { ok: false, code, reason };
}

/** The first string value of a metadata key, '' when absent. */
export function metadataString(metadata: MetadataReader, key: string): string {
  for (const v of metadata.get(key)) if (typeof v === 'string') return v;
  return '';
}

/** The token of an `authorization: Bearer …` header, or undefined when there is none. */
export function bearerToken(metadata: MetadataReader): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(metadataString(metadata, 'authorization'));
  return m?.[1];
}

const SA_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** `system:serviceaccount:<ns>:<sa>` → its parts; anything else (users, nodes) → undefined. */
export function parseServiceAccountUser(username: string): { namespace: string; serviceAccount: string } | undefined {
  const m = SA_USER.exec(username);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  return { namespace: m[1], serviceAccount: m[2] };
}

/**
 * "<ns>/<sa>": how logs and the rate limiter name a caller. The trust domain is left out on
 * purpose, so a workload renewing by certificate and by token shares one bucket.
 */
export function identityKey(id: Pick<CallerIdentity, 'namespace' | 'serviceAccount'>): string {
  return `${id.namespace}/${id.serviceAccount}`;
}
