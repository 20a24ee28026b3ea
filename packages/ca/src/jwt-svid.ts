/**
 * JWT-SVIDs (SPIFFE JWT-SVID spec): `sub` the SPIFFE ID, `aud` required, a short `exp`,
 * signed ES256 with a `kid` that names a key of the trust domain's SPIFFE bundle
 * (`use: jwt-svid`).
 *
 * The signing key is derived from the CA's own key (HKDF, a separate purpose), so every
 * replica that holds the CA (the Kubernetes Secret, or the same cacerts) signs with the same
 * key and publishes the same bundle, with no second secret to distribute; rotating the CA
 * rotates it too. A token outlives its key by at most its lifetime (five minutes by default).
 */
import { Buffer } from 'node:buffer';
import { createECDH, createPrivateKey, hkdfSync, sign, type KeyObject } from 'node:crypto';
import { jwkThumbprint, type Jwk } from './authn/jws.ts';

/** The order of P-256's base point. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HKDF_INFO = 'meridian jwt-svid signing key v1';

export const JWT_SVID_DEFAULT_TTL_SECONDS = 300;
export const JWT_SVID_MAX_TTL_SECONDS = 3600;

/** A JWT-SVID signing key as the SPIFFE bundle lists it. */
export interface JwtSvidBundleKey extends Jwk {
  readonly use: 'jwt-svid';
  readonly kid: string;
}

export interface JwtSvid {
  readonly token: string;
  readonly spiffeId: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

/** The `iss` of JWT-SVIDs: the trust domain's own SPIFFE ID (`spiffe://<trust-domain>`). */
export function jwtSvidIssuer(spiffeId: string): string {
  return spiffeId.slice(0, spiffeId.indexOf('/', 'spiffe://'.length));
}

export class JwtSvidSigner {
  readonly #key: KeyObject;
  readonly #clock: () => number;
  /** The public half, with its `kid`, for the bundle. */
  readonly bundleKey: JwtSvidBundleKey;

  /** A signer whose key is derived from `caKey` (any key type the CA takes). */
  static fromCaKey(caKey: KeyObject, clock: () => number = Date.now): JwtSvidSigner {
    const seed = Buffer.from(hkdfSync('sha256', caKey.export({ type: 'pkcs8', format: 'der' }), Buffer.alloc(0), HKDF_INFO, 48));
    // 48 bytes reduced modulo the order: a scalar with negligible bias, never zero.
    const d = (BigInt(`0x${seed.toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
    const dBytes = Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(dBytes);
    const point = ecdh.getPublicKey();
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
    return new JwtSvidSigner(createPrivateKey({ key: { ...jwk, d: dBytes.toString('base64url') }, format: 'jwk' }), clock);
  }

  constructor(key: KeyObject, clock: () => number = Date.now) {
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('a JWT-SVID key must be EC P-256');
    this.#key = key;
    this.#clock = clock;
    const pub = key.export({ format: 'jwk' });
    const jwk = { kty: 'EC', crv: 'P-256', x: String(pub.x), y: String(pub.y) };
    this.bundleKey = { ...jwk, use: 'jwt-svid', kid: jwkThumbprint(jwk) };
  }

  /** Signs a JWT-SVID for `spiffeId`; `audiences` must not be empty, `ttlSeconds` is capped. */
  mint(spiffeId: string, audiences: readonly string[], ttlSeconds = JWT_SVID_DEFAULT_TTL_SECONDS): JwtSvid {
    if (audiences.length === 0) throw new TypeError('a JWT-SVID needs at least one audience');
    const now = Math.floor(this.#clock() / 1000);
    const expiresAt = now + Math.min(Math.max(1, ttlSeconds), JWT_SVID_MAX_TTL_SECONDS);
    const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = part({ alg: 'ES256', kid: this.bundleKey.kid, typ: 'JWT' });
    // `iss` is optional in the spec; RequestAuthentication (and Envoy) match on it.
    const payload = part({ iss: jwtSvidIssuer(spiffeId), sub: spiffeId, aud: audiences.length === 1 ? audiences[0] : audiences, iat: now, exp: expiresAt });
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: this.#key, dsaEncoding: 'ieee-p1363' });
    return { token: `${header}.${payload}.${signature.toString('base64url')}`, spiffeId, expiresAt };
  }
}
