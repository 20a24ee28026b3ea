import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { JwtSvidBundleKey } from './jwt-svid.ts';
import { certToPem } from './pem.ts';

/** One JWK of a SPIFFE bundle (SPIFFE Trust Domain and Bundle spec §4). */
export interface SpiffeBundleKey {
  readonly use: 'x509-svid';
  readonly kty: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
  /** Exactly one base64 (not base64url) DER certificate. */
  readonly x5c: readonly [string];
}

export interface SpiffeBundle {
  readonly keys: ReadonlyArray<SpiffeBundleKey | JwtSvidBundleKey>;
  readonly spiffe_refresh_hint?: number;
  readonly spiffe_sequence?: number;
}

export function trustBundlePem(rootsDer: readonly Uint8Array[]): string[] {
  return rootsDer.map(certToPem);
}

export interface SpiffeBundleOptions {
  readonly rootsDer: readonly Uint8Array[];
  /** Seconds consumers should wait before polling again. */
  readonly refreshHintSeconds?: number;
  /** Increases whenever the bundle content changes. */
  readonly sequence?: number;
  /** The keys JWT-SVIDs of the trust domain are signed with. */
  readonly jwtKeys?: readonly JwtSvidBundleKey[];
}

export function spiffeBundle(opts: SpiffeBundleOptions): SpiffeBundle {
  const keys = opts.rootsDer.map((der): SpiffeBundleKey => {
    const jwk = new X509Certificate(Buffer.from(der)).publicKey.export({ format: 'jwk' });
    const pick = (k: 'crv' | 'x' | 'y' | 'n' | 'e'): Record<string, string> => (typeof jwk[k] === 'string' ? { [k]: jwk[k] } : {});
    return {
      use: 'x509-svid',
      kty: String(jwk.kty),
      ...pick('crv'),
      ...pick('x'),
      ...pick('y'),
      ...pick('n'),
      ...pick('e'),
      x5c: [Buffer.from(der).toString('base64')],
    };
  });
  return {
    keys: [...keys, ...(opts.jwtKeys ?? [])],
    ...(opts.refreshHintSeconds === undefined ? {} : { spiffe_refresh_hint: opts.refreshHintSeconds }),
    ...(opts.sequence === undefined ? {} : { spiffe_sequence: opts.sequence }),
  };
}
