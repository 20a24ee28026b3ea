import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { CaError, CaErrorCode } from '../errors.ts';
import { DEFAULT_TOKEN_AUDIENCES } from './kube-token.ts';
import { jwkThumbprint, type Jwk, type Jwks } from './jws.ts';
import type { JwtIssuerConfig } from './jwt-authenticator.ts';

/** Kept beside the CA's `cacerts/` directory, in the same Meridian-owned directory. */
export const LOCAL_JWT_KEY_FILE = 'jwt-signing-key.pem';

export interface LocalJwtIssuerOptions {
  /** An EC P-256 private key. */
  readonly key: KeyObject;
  /** The `iss` of every token; verifiers match it exactly. */
  readonly issuer: string;
  readonly clock?: () => number;
}

export interface LoadOrCreateLocalJwtIssuerOptions {
  /** The directory that holds `cacerts/` (the `dir` of `loadOrCreateSelfSignedCa`). */
  readonly dir: string;
  readonly issuer: string;
  readonly clock?: () => number;
}

export interface MintOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Default 1 h. */
  readonly ttlSeconds?: number;
  /** Default `istio-ca`. */
  readonly audience?: string | readonly string[];
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

async function writeNewFile(file: string, data: string): Promise<boolean> {
  // Write aside, make durable, then link into place: link fails if the name exists, so
  // concurrent first starts agree on one key and a crash never leaves a half-written one.
  // The temporary name is removed on every path, a failed write (disk full) included.
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Meridian's own token issuer (ES256), for workloads that have no Kubernetes API to vouch
 * for them: `meridian token` mints, and a `JwtAuthenticator` given `issuerConfig()` verifies.
 */
export class LocalJwtIssuer {
  readonly #key: KeyObject;
  readonly #issuer: string;
  readonly #jwk: Jwk;
  readonly #clock: () => number;

  constructor(options: LocalJwtIssuerOptions) {
    const k = options.key;
    if (k.type !== 'private' || k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new CaError(CaErrorCode.Config, 'the local JWT signing key must be an EC P-256 private key');
    }
    this.#key = k;
    this.#issuer = options.issuer;
    this.#clock = options.clock ?? Date.now;
    const pub = createPublicKey(k).export({ format: 'jwk' });
    const base: Jwk = { kty: 'EC', crv: 'P-256', x: String(pub.x), y: String(pub.y) };
    this.#jwk = { ...base, kid: jwkThumbprint(base), alg: 'ES256', use: 'sig' };
  }

  /** Loads `<dir>/jwt-signing-key.pem`, creating it (0600) on first start. */
  static async loadOrCreate(options: LoadOrCreateLocalJwtIssuerOptions): Promise<LocalJwtIssuer> {
    const file = path.join(options.dir, LOCAL_JWT_KEY_FILE);
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CaError(CaErrorCode.Config, `cannot read ${file}`, { cause: err });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      try {
        await writeNewFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      } catch (writeErr) {
        throw new CaError(CaErrorCode.Storage, `cannot write ${file}`, { cause: writeErr });
      }
      pem = await readFile(file, 'utf8');
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new CaError(CaErrorCode.Config, `${file} is not a PEM private key`, { cause: err });
    }
    return new LocalJwtIssuer({ key, issuer: options.issuer, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  }

  get issuer(): string {
    return this.#issuer;
  }

  jwks(): Jwks {
    return { keys: [this.#jwk] };
  }

  /** What a `JwtAuthenticator` needs to accept this issuer's tokens. */
  issuerConfig(): JwtIssuerConfig {
    return { issuer: this.#issuer, jwks: this.jwks() };
  }

  /** A token in the shape of a projected service-account token, so verifiers treat both alike. */
  mint(opts: MintOptions): string {
    const ttl = opts.ttlSeconds ?? 3600;
    if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError(`token TTL must be a positive whole number of seconds, got ${ttl}`);
    if (!NAME.test(opts.namespace) || !NAME.test(opts.serviceAccount)) {
      throw new RangeError(`"${opts.namespace}/${opts.serviceAccount}" is not a valid namespace/service account`);
    }
    const aud = opts.audience ?? DEFAULT_TOKEN_AUDIENCES;
    const now = Math.floor(this.#clock() / 1000);
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = enc({ alg: 'ES256', typ: 'JWT', kid: this.#jwk.kid });
    const payload = enc({
      iss: this.#issuer,
      sub: `system:serviceaccount:${opts.namespace}:${opts.serviceAccount}`,
      aud: typeof aud === 'string' ? [aud] : [...aud],
      iat: now,
      nbf: now,
      exp: now + ttl,
      jti: randomUUID(),
      'kubernetes.io': { namespace: opts.namespace, serviceaccount: { name: opts.serviceAccount } },
    });
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: this.#key, dsaEncoding: 'ieee-p1363' });
    return `${header}.${payload}.${signature.toString('base64url')}`;
  }
}
