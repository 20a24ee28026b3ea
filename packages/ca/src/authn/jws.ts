import { Buffer } from 'node:buffer';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Signature algorithms we verify. HS* and "none" are absent on purpose (RFC 8725 §2.1, §3.1). */
export const JwsAlgorithm = {
  ES256: { kty: 'EC', crv: 'P-256', digest: 'sha256' },
  ES384: { kty: 'EC', crv: 'P-384', digest: 'sha384' },
  RS256: { kty: 'RSA', crv: undefined, digest: 'sha256' },
  RS384: { kty: 'RSA', crv: undefined, digest: 'sha384' },
  RS512: { kty: 'RSA', crv: undefined, digest: 'sha512' },
} as const;
export type JwsAlgorithm = keyof typeof JwsAlgorithm;

/** A public JWK as found in a JWKS document (RFC 7517); only the fields we read. */
export interface Jwk {
  readonly kty: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

export interface Jwks {
  readonly keys: readonly Jwk[];
}

/** A JWKS entry ready to verify with. */
export interface VerificationKey {
  readonly kid?: string;
  readonly alg?: string;
  readonly kty: 'EC' | 'RSA';
  readonly crv?: string;
  readonly key: KeyObject;
}

export type JwksResult = { readonly ok: true; readonly keys: readonly VerificationKey[] } | { readonly ok: false; readonly reason: string };

const MAX_TOKEN_LENGTH = 16 * 1024;
const B64URL = /^[A-Za-z0-9_-]*$/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Validates a parsed JWKS document and imports its signing keys. Keys marked for encryption
 * are skipped; any private part is ignored, because only the public fields are imported.
 */
export function parseJwks(doc: unknown): JwksResult {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return { ok: false, reason: 'JWKS must be an object with a "keys" array' };
  const out: VerificationKey[] = [];
  for (const [i, raw] of keys.entries()) {
    const k = (raw ?? {}) as Record<string, unknown>;
    const at = `keys[${i}]`;
    if (k['use'] !== undefined && k['use'] !== 'sig') continue;
    const kty = k['kty'];
    const kid = str(k['kid']);
    const alg = str(k['alg']);
    if (alg !== undefined && !(alg in JwsAlgorithm)) continue;
    let jwk: Record<string, string>;
    if (kty === 'EC') {
      const crv = str(k['crv']);
      const x = str(k['x']);
      const y = str(k['y']);
      if (crv === undefined || x === undefined || y === undefined) return { ok: false, reason: `${at}: EC key needs crv, x and y` };
      if (crv !== 'P-256' && crv !== 'P-384') continue;
      jwk = { kty, crv, x, y };
    } else if (kty === 'RSA') {
      const n = str(k['n']);
      const e = str(k['e']);
      if (n === undefined || e === undefined) return { ok: false, reason: `${at}: RSA key needs n and e` };
      jwk = { kty, n, e };
    } else {
      continue;
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch (err) {
      return { ok: false, reason: `${at}: not a valid ${String(kty)} key: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      return { ok: false, reason: `${at}: RSA key shorter than 2048 bits` };
    }
    out.push({ kty, key, ...(kid === undefined ? {} : { kid }), ...(alg === undefined ? {} : { alg }), ...(jwk['crv'] === undefined ? {} : { crv: jwk['crv'] }) });
  }
  if (out.length === 0) return { ok: false, reason: 'JWKS has no usable signing key (EC P-256/P-384 or RSA)' };
  return { ok: true, keys: out };
}

/** RFC 7638 thumbprint: a key id that is the same wherever the key is published. */
export function jwkThumbprint(jwk: Jwk): string {
  const members =
    jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : undefined;
  if (members === undefined) throw new TypeError(`no thumbprint for key type ${jwk.kty}`);
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export interface DecodedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly alg: JwsAlgorithm;
  readonly signingInput: string;
  readonly signature: Buffer;
}

export type DecodeResult = { readonly ok: true; readonly jws: DecodedJws } | { readonly ok: false; readonly reason: string };

function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes a compact JWS. Nothing in the result is trustworthy until `verifyJws` said so. */
export function decodeJws(token: string): DecodeResult {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: `token longer than ${MAX_TOKEN_LENGTH} characters` };
  const parts = token.split('.');
  const [h, p, s] = parts;
  if (parts.length !== 3 || h === undefined || p === undefined || s === undefined || !parts.every((x) => B64URL.test(x))) {
    return { ok: false, reason: 'not a compact JWS (three base64url parts)' };
  }
  const header = jsonObject(h);
  const claims = jsonObject(p);
  if (header === undefined || claims === undefined) return { ok: false, reason: 'JWS header or payload is not a JSON object' };
  const alg = header['alg'];
  if (typeof alg !== 'string' || !Object.hasOwn(JwsAlgorithm, alg)) return { ok: false, reason: `JWS algorithm ${JSON.stringify(alg)} is not accepted` };
  if (header['crit'] !== undefined) return { ok: false, reason: 'JWS "crit" header is not supported' };
  return { ok: true, jws: { header, claims, alg: alg as JwsAlgorithm, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') } };
}

function fits(key: VerificationKey, alg: JwsAlgorithm): boolean {
  const want = JwsAlgorithm[alg];
  return key.kty === want.kty && (want.crv === undefined || key.crv === want.crv) && (key.alg === undefined || key.alg === alg);
}

/** True when one of the keys (the one named by `kid`, if the header names one) signed it. */
export function verifyJws(jws: DecodedJws, keys: readonly VerificationKey[]): boolean {
  const kid = jws.header['kid'];
  const { digest } = JwsAlgorithm[jws.alg];
  const data = Buffer.from(jws.signingInput, 'latin1');
  for (const k of keys) {
    if (typeof kid === 'string' && k.kid !== undefined && k.kid !== kid) continue;
    if (!fits(k, jws.alg)) continue;
    // JWS carries ECDSA signatures as raw r||s (RFC 7518 §3.4), not DER.
    const ok = k.kty === 'EC' ? verify(digest, data, { key: k.key, dsaEncoding: 'ieee-p1363' }, jws.signature) : verify(digest, data, k.key, jws.signature);
    if (ok) return true;
  }
  return false;
}
