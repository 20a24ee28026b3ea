import { MeridianError } from '@meridian/model';

/** Stable codes: callers, metrics and logs branch on these, so never rename one. */
export const CaErrorCode = {
  /** Not a parseable PKCS#10 request, or a malformed field inside one. */
  CsrInvalid: 'CA_ERR_CSR_INVALID',
  /** The request's self-signature does not verify. */
  CsrSignature: 'CA_ERR_CSR_SIGNATURE',
  /** The request's key type or size is not one we issue for. */
  KeyUnsupported: 'CA_ERR_KEY_UNSUPPORTED',
  /** Subject alternative names do not name exactly one valid SPIFFE ID of our trust domain. */
  San: 'CA_ERR_SAN',
  /** Requested lifetime is not a positive duration, or exceeds the maximum under the reject policy. */
  Ttl: 'CA_ERR_TTL',
  /** No signing material loaded yet. */
  NotReady: 'CA_ERR_NOT_READY',
  /** The signing certificate has expired or is not yet valid. */
  CaExpired: 'CA_ERR_CA_EXPIRED',
  /** A private key does not belong to the certificate it was paired with. */
  KeyMismatch: 'CA_ERR_KEY_MISMATCH',
  /** A certificate chain does not verify up to a configured root. */
  Chain: 'CA_ERR_CHAIN',
  /** A certificate meant to sign others is not a CA (basicConstraints / keyUsage). */
  NotCa: 'CA_ERR_NOT_CA',
  /** CA material on disk is missing, unreadable or unparseable. */
  Config: 'CA_ERR_CONFIG',
  /** Persisting CA material failed. */
  Storage: 'CA_ERR_STORAGE',
  /** Signing failed for a reason that is not the caller's fault. */
  Sign: 'CA_ERR_SIGN',
} as const;
export type CaErrorCode = (typeof CaErrorCode)[keyof typeof CaErrorCode];

export class CaError extends MeridianError {
  declare readonly code: CaErrorCode;

  constructor(code: CaErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CaError';
  }
}

/** The three outcomes the gRPC edge needs; everything unknown is INTERNAL. */
export type CaErrorKind = 'INVALID_ARGUMENT' | 'UNAVAILABLE' | 'INTERNAL';

const kindByCode: Readonly<Record<CaErrorCode, CaErrorKind>> = {
  CA_ERR_CSR_INVALID: 'INVALID_ARGUMENT',
  CA_ERR_CSR_SIGNATURE: 'INVALID_ARGUMENT',
  CA_ERR_KEY_UNSUPPORTED: 'INVALID_ARGUMENT',
  CA_ERR_SAN: 'INVALID_ARGUMENT',
  CA_ERR_TTL: 'INVALID_ARGUMENT',
  CA_ERR_NOT_READY: 'UNAVAILABLE',
  CA_ERR_CA_EXPIRED: 'UNAVAILABLE',
  CA_ERR_KEY_MISMATCH: 'INTERNAL',
  CA_ERR_CHAIN: 'INTERNAL',
  CA_ERR_NOT_CA: 'INTERNAL',
  CA_ERR_CONFIG: 'INTERNAL',
  CA_ERR_STORAGE: 'INTERNAL',
  CA_ERR_SIGN: 'INTERNAL',
};

export function isCaError(err: unknown): err is CaError {
  return err instanceof CaError;
}

export function caErrorKind(err: unknown): CaErrorKind {
  return isCaError(err) ? kindByCode[err.code] : 'INTERNAL';
}
