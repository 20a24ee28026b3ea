import { type Buffer } from 'node:buffer';
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { CaAuthority } from './authority.ts';
import { KeyKind, parseCsr, type ParsedCsr } from './csr.ts';
import { verifyCsrSignature } from './csr-verify.ts';
import { CaError, CaErrorCode, isCaError } from './errors.ts';
import {
  SignatureAlgorithm,
  authorityKeyIdExtension,
  encodeCertificate,
  encodeLeafTbs,
  randomSerial,
  type GeneralName,
  type LeafTemplate,
} from './leaf-encoder.ts';
import { certToPem } from './pem.ts';
import { parseWorkloadId, type WorkloadId } from './spiffe-id.ts';

export const TtlPolicy = {
  /** A request above the maximum gets the maximum (Istio agents ask for their configured TTL). */
  Cap: 'cap',
  /** A request above the maximum fails with CA_ERR_TTL. */
  Reject: 'reject',
} as const;
export type TtlPolicy = (typeof TtlPolicy)[keyof typeof TtlPolicy];

export interface SvidSignerOptions {
  readonly trustDomain: string;
  /** Signing material; without it every request fails with CA_ERR_NOT_READY until `setAuthority`. */
  readonly authority?: CaAuthority;
  /** Lifetime when the request names none. Default 24 h (or the maximum, if lower). */
  readonly defaultTtlSeconds?: number;
  /** Upper bound on any lifetime. Default 7 days. */
  readonly maxTtlSeconds?: number;
  readonly ttlPolicy?: TtlPolicy;
  /** How far notBefore is set in the past, for peers with slow clocks. Default 5 min. */
  readonly backdateSeconds?: number;
  readonly clock?: () => number;
  /**
   * Run CSR verification and signing on the libuv thread pool instead of inline. Inline is
   * faster one request at a time; offloading wins when many requests are in flight on a
   * machine with spare cores. Default false.
   */
  readonly offloadCrypto?: boolean;
}

export interface SignRequest {
  /** PKCS#10 request, PEM or DER. */
  readonly csr: string | Uint8Array;
  /** Requested lifetime in seconds; 0 or absent means the default. */
  readonly ttlSeconds?: number;
}

export interface IssuedSvid {
  /** Leaf first, root last, each PEM: the shape of Istio's CreateCertificate response. */
  readonly certChainPem: readonly string[];
  readonly leafDer: Buffer;
  readonly id: WorkloadId;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ServingCertRequest {
  readonly publicKey: KeyObject;
  readonly dnsNames: readonly string[];
  readonly spiffeId?: string;
  readonly ttlSeconds?: number;
}

export interface IssuedCert {
  readonly certChainPem: readonly string[];
  readonly leafDer: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Counters for metrics: what was issued and why requests failed. */
export interface SignerStats {
  readonly issued: number;
  readonly failed: Readonly<Partial<Record<string, number>>>;
}

interface Resolved {
  readonly trustDomain: string;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  readonly ttlPolicy: TtlPolicy;
  readonly backdateMs: number;
  readonly clock: () => number;
  readonly offloadCrypto: boolean;
}

function resolve(opts: SvidSignerOptions): Resolved {
  const maxTtl = opts.maxTtlSeconds ?? 7 * 24 * 3600;
  const defaultTtl = opts.defaultTtlSeconds ?? Math.min(24 * 3600, maxTtl);
  if (!(defaultTtl > 0 && maxTtl > 0 && defaultTtl <= maxTtl)) {
    throw new RangeError(`invalid TTL settings: default ${defaultTtl}s, max ${maxTtl}s`);
  }
  return {
    trustDomain: opts.trustDomain,
    defaultTtlMs: defaultTtl * 1000,
    maxTtlMs: maxTtl * 1000,
    ttlPolicy: opts.ttlPolicy ?? TtlPolicy.Cap,
    backdateMs: (opts.backdateSeconds ?? 300) * 1000,
    clock: opts.clock ?? Date.now,
    offloadCrypto: opts.offloadCrypto ?? false,
  };
}

interface Loaded {
  readonly authority: CaAuthority;
  readonly template: LeafTemplate;
  readonly chainNotAfter: number;
}

function load(authority: CaAuthority): Loaded {
  const sig =
    authority.keyKind === KeyKind.Rsa
      ? { signatureAlgorithm: SignatureAlgorithm.rsaSha256, digest: 'sha256' as const }
      : authority.keyKind === KeyKind.EcP384
        ? { signatureAlgorithm: SignatureAlgorithm.ecdsaSha384, digest: 'sha384' as const }
        : { signatureAlgorithm: SignatureAlgorithm.ecdsaSha256, digest: 'sha256' as const };
  return {
    authority,
    template: { ...sig, issuer: authority.subjectDer, authorityKeyIdExt: authorityKeyIdExtension(authority.subjectKeyId) },
    chainNotAfter: authority.chainNotAfter.getTime(),
  };
}

function signAsync(digest: string, data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    cryptoSign(digest, data, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
}

/**
 * The one SPIFFE ID a CSR asks for, or CA_ERR_SAN saying why it does not name exactly one of
 * our trust domain. Exported so the certificate service checks the same thing it will sign.
 */
export function csrWorkloadId(csr: ParsedCsr, trustDomain: string): WorkloadId {
  const [uri, ...more] = csr.uriSans;
  if (uri === undefined) {
    throw new CaError(CaErrorCode.San, csr.otherSans > 0 ? 'CSR has no URI SAN (only DNS/IP/other names)' : 'CSR has no subjectAltName URI');
  }
  if (more.length > 0) throw new CaError(CaErrorCode.San, `CSR has ${csr.uriSans.length} URI SANs; an SVID has exactly one`);
  if (csr.otherSans > 0) throw new CaError(CaErrorCode.San, 'CSR has SANs other than its SPIFFE ID; an SVID carries only the URI');
  return parseWorkloadId(uri, trustDomain);
}

/** Turns CSRs into X.509-SVIDs (SPIFFE X.509-SVID spec; DESIGN §5). */
export class SvidSigner {
  readonly #opts: Resolved;
  #loaded: Loaded | undefined;
  #issued = 0;
  readonly #failed: Partial<Record<string, number>> = {};

  constructor(options: SvidSignerOptions) {
    this.#opts = resolve(options);
    this.#loaded = options.authority === undefined ? undefined : load(options.authority);
  }

  get trustDomain(): string {
    return this.#opts.trustDomain;
  }

  get authority(): CaAuthority | undefined {
    return this.#loaded?.authority;
  }

  /** Swaps signing material (rotation); requests already in flight finish with the old one. */
  setAuthority(authority: CaAuthority): void {
    this.#loaded = load(authority);
  }

  /**
   * Validates the request, then issues. Every failure is a CaError and nothing is signed
   * unless all checks passed.
   */
  async sign(req: SignRequest): Promise<IssuedSvid> {
    try {
      const issued = await this.#sign(req);
      this.#issued++;
      return issued;
    } catch (err) {
      const code = isCaError(err) ? err.code : 'UNKNOWN';
      this.#failed[code] = (this.#failed[code] ?? 0) + 1;
      throw err;
    }
  }

  stats(): SignerStats {
    return { issued: this.#issued, failed: { ...this.#failed } };
  }

  async #sign(req: SignRequest): Promise<IssuedSvid> {
    const loaded = this.#ready();
    const csr = parseCsr(req.csr);
    const id = csrWorkloadId(csr, this.#opts.trustDomain);
    const lifetimeMs = this.#lifetimeMs(req.ttlSeconds);
    await verifyCsrSignature(csr, { offload: this.#opts.offloadCrypto });
    const issued = await this.#issue(loaded, {
      spki: csr.spki,
      keyEncipherment: csr.keyKind === KeyKind.Rsa,
      sans: [{ kind: 'uri', value: id.uri }],
      lifetimeMs,
    });
    return { ...issued, id };
  }

  /**
   * A TLS server certificate for Meridian itself (port 15012): DNS names plus, optionally, its
   * own SPIFFE ID. The key is Meridian's own, so there is no CSR to check.
   */
  async signServingCertificate(req: ServingCertRequest): Promise<IssuedCert> {
    const loaded = this.#ready();
    if (req.dnsNames.length === 0) throw new CaError(CaErrorCode.San, 'a serving certificate needs at least one DNS name');
    for (const name of req.dnsNames) {
      if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) throw new CaError(CaErrorCode.San, `invalid DNS name "${name}"`);
    }
    const sans: GeneralName[] = req.dnsNames.map((value) => ({ kind: 'dns', value }));
    if (req.spiffeId !== undefined) sans.push({ kind: 'uri', value: parseWorkloadId(req.spiffeId, this.#opts.trustDomain).uri });
    const kind = req.publicKey.asymmetricKeyType;
    if (req.publicKey.type !== 'public' || (kind !== 'ec' && kind !== 'rsa')) {
      throw new CaError(CaErrorCode.KeyUnsupported, 'serving certificate key must be an EC or RSA public key');
    }
    return this.#issue(loaded, {
      spki: req.publicKey.export({ type: 'spki', format: 'der' }),
      keyEncipherment: kind === 'rsa',
      sans,
      lifetimeMs: this.#lifetimeMs(req.ttlSeconds),
    });
  }

  #ready(): Loaded {
    const loaded = this.#loaded;
    if (loaded === undefined) throw new CaError(CaErrorCode.NotReady, 'CA signing material is not loaded yet');
    return loaded;
  }


  #lifetimeMs(ttlSeconds: number | undefined): number {
    if (ttlSeconds === undefined || ttlSeconds === 0) return this.#opts.defaultTtlMs;
    if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0) throw new CaError(CaErrorCode.Ttl, `requested TTL ${ttlSeconds}s is not a positive duration`);
    const ms = ttlSeconds * 1000;
    if (ms <= this.#opts.maxTtlMs) return ms;
    if (this.#opts.ttlPolicy === TtlPolicy.Reject) {
      throw new CaError(CaErrorCode.Ttl, `requested TTL ${ttlSeconds}s exceeds the maximum ${this.#opts.maxTtlMs / 1000}s`);
    }
    return this.#opts.maxTtlMs;
  }

  async #issue(
    loaded: Loaded,
    leaf: { spki: Uint8Array; keyEncipherment: boolean; sans: readonly GeneralName[]; lifetimeMs: number },
  ): Promise<IssuedCert & { serialHex: string }> {
    const now = this.#opts.clock();
    const notAfterMs = Math.min(now + leaf.lifetimeMs, loaded.chainNotAfter);
    if (notAfterMs <= now) throw new CaError(CaErrorCode.CaExpired, 'the signing certificate has expired');
    // Whole seconds: certificate times carry no fractions, and a rounded-up notBefore could start in the future.
    const notBefore = new Date(Math.floor(Math.max(now - this.#opts.backdateMs, loaded.authority.notBefore.getTime()) / 1000) * 1000);
    const notAfter = new Date(Math.floor(notAfterMs / 1000) * 1000);
    const serial = randomSerial();
    const tbs = encodeLeafTbs(loaded.template, { serial, notBefore, notAfter, ...leaf });
    let signature: Buffer;
    try {
      signature = this.#opts.offloadCrypto
        ? await signAsync(loaded.template.digest, tbs, loaded.authority.key)
        : cryptoSign(loaded.template.digest, tbs, loaded.authority.key);
    } catch (err) {
      throw new CaError(CaErrorCode.Sign, 'signing the certificate failed', { cause: err });
    }
    const leafDer = encodeCertificate(loaded.template, tbs, signature);
    return {
      certChainPem: [certToPem(leafDer), ...loaded.authority.chainAfterLeafPem],
      leafDer,
      serialHex: serial.toString('hex'),
      notBefore,
      notAfter,
    };
  }
}
