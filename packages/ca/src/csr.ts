import { Buffer } from 'node:buffer';
import {
  DerError,
  Tag,
  bitStringBytes,
  children,
  decodeOid,
  expectTlv,
  readTlv,
  type Tlv,
} from './der.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { Oid, csrSignatureDigest } from './oids.ts';

export const KeyKind = {
  EcP256: 'EC-P256',
  EcP384: 'EC-P384',
  Rsa: 'RSA',
} as const;
export type KeyKind = (typeof KeyKind)[keyof typeof KeyKind];

/** The parts of a PKCS#10 request the signer needs; byte fields are views into the input. */
export interface ParsedCsr {
  /** DER of CertificationRequestInfo: the bytes the request's signature covers. */
  readonly info: Uint8Array;
  /** DER of SubjectPublicKeyInfo, copied verbatim into the certificate. */
  readonly spki: Uint8Array;
  readonly keyKind: KeyKind;
  /** EC: the uncompressed/compressed point; RSA: empty. */
  readonly ecPoint: Uint8Array;
  /** RSA modulus size in bits; 0 for EC. */
  readonly rsaBits: number;
  readonly digest: 'sha256' | 'sha384' | 'sha512';
  readonly signature: Uint8Array;
  readonly uriSans: readonly string[];
  /** Count of SAN entries that are not URIs (DNS, IP, e-mail...). */
  readonly otherSans: number;
}

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const MAX_CSR_BYTES = 64 * 1024;

const PEM_CSR = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (?:NEW )?CERTIFICATE REQUEST-----/;

/** Accepts PEM text (string or bytes) or DER bytes. */
export function csrToDer(csr: string | Uint8Array): Uint8Array {
  if (typeof csr !== 'string' && csr[0] === Tag.Sequence) return csr;
  const text = typeof csr === 'string' ? csr : Buffer.from(csr.buffer, csr.byteOffset, csr.byteLength).toString('latin1');
  const m = PEM_CSR.exec(text);
  if (m === null || m[1] === undefined) {
    throw new CaError(CaErrorCode.CsrInvalid, 'CSR is neither DER nor a PEM "CERTIFICATE REQUEST" block');
  }
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/**
 * Parses a PKCS#10 CertificationRequest (RFC 2986) strictly enough to trust its shape, but
 * does not verify its signature: see `verifyCsrSignature`.
 */
export function parseCsr(input: string | Uint8Array): ParsedCsr {
  const der = csrToDer(input);
  if (der.length > MAX_CSR_BYTES) throw new CaError(CaErrorCode.CsrInvalid, `CSR larger than ${MAX_CSR_BYTES} bytes`);
  try {
    return parseCsrDer(der);
  } catch (err) {
    if (err instanceof DerError) throw new CaError(CaErrorCode.CsrInvalid, `malformed CSR: ${err.message}`, { cause: err });
    throw err;
  }
}

function parseCsrDer(der: Uint8Array): ParsedCsr {
  const outer = expectTlv(der, 0, der.length, Tag.Sequence, 'CertificationRequest');
  if (outer.end !== der.length) throw new DerError('trailing bytes after CertificationRequest');
  const [infoTlv, sigAlgTlv, sigTlv, ...extra] = children(der, outer);
  if (infoTlv === undefined || sigAlgTlv === undefined || sigTlv === undefined || extra.length > 0) {
    throw new DerError('CertificationRequest must have exactly three fields');
  }
  if (infoTlv.tag !== Tag.Sequence || sigAlgTlv.tag !== Tag.Sequence) throw new DerError('bad CertificationRequest');

  const sigAlgOid = decodeOid(der, expectTlv(der, sigAlgTlv.contentStart, sigAlgTlv.end, Tag.Oid, 'signatureAlgorithm'));
  const digest = csrSignatureDigest[sigAlgOid];
  if (digest === undefined) {
    throw new CaError(CaErrorCode.CsrInvalid, `unsupported CSR signature algorithm ${sigAlgOid}`);
  }
  const signature = bitStringBytes(der, sigTlv);

  const [versionTlv, subjectTlv, spkiTlv, attrsTlv, ...more] = children(der, infoTlv);
  if (versionTlv === undefined || subjectTlv === undefined || spkiTlv === undefined || more.length > 0) {
    throw new DerError('CertificationRequestInfo has the wrong number of fields');
  }
  if (versionTlv.tag !== Tag.Integer || versionTlv.end - versionTlv.contentStart !== 1 || der[versionTlv.contentStart] !== 0) {
    throw new DerError('CertificationRequestInfo version must be 0');
  }
  if (subjectTlv.tag !== Tag.Sequence || spkiTlv.tag !== Tag.Sequence) throw new DerError('bad subject or key');

  const key = parseSpki(der, spkiTlv);
  const sans = attrsTlv === undefined ? { uris: [], other: 0 } : parseAttributes(der, attrsTlv);

  const sigIsEc = sigAlgOid.startsWith('1.2.840.10045.4.');
  if (sigIsEc !== (key.keyKind !== KeyKind.Rsa)) {
    throw new CaError(CaErrorCode.CsrInvalid, 'CSR signature algorithm does not match its key type');
  }
  return {
    info: der.subarray(infoTlv.start, infoTlv.end),
    spki: der.subarray(spkiTlv.start, spkiTlv.end),
    ...key,
    digest,
    signature,
    uriSans: sans.uris,
    otherSans: sans.other,
  };
}

function parseSpki(der: Uint8Array, spki: Tlv): Pick<ParsedCsr, 'keyKind' | 'ecPoint' | 'rsaBits'> {
  const [algTlv, keyTlv, ...extra] = children(der, spki);
  if (algTlv === undefined || keyTlv === undefined || extra.length > 0 || algTlv.tag !== Tag.Sequence) {
    throw new DerError('malformed SubjectPublicKeyInfo');
  }
  const [algOidTlv, paramsTlv] = children(der, algTlv);
  if (algOidTlv === undefined) throw new DerError('SubjectPublicKeyInfo without algorithm');
  const alg = decodeOid(der, algOidTlv);
  const keyBytes = bitStringBytes(der, keyTlv);
  if (alg === Oid.ecPublicKey) {
    const curve = paramsTlv?.tag === Tag.Oid ? decodeOid(der, paramsTlv) : 'explicit parameters';
    const kind = curve === Oid.prime256v1 ? KeyKind.EcP256 : curve === Oid.secp384r1 ? KeyKind.EcP384 : undefined;
    if (kind === undefined) {
      throw new CaError(CaErrorCode.KeyUnsupported, `EC curve ${curve} is not supported; use P-256 or P-384`);
    }
    return { keyKind: kind, ecPoint: keyBytes, rsaBits: 0 };
  }
  if (alg === Oid.rsaEncryption) {
    const rsaKey = expectTlv(keyBytes, 0, keyBytes.length, Tag.Sequence, 'RSAPublicKey');
    const [modulus] = children(keyBytes, rsaKey);
    if (modulus?.tag !== Tag.Integer) throw new DerError('RSAPublicKey without modulus');
    let start = modulus.contentStart;
    while (start < modulus.end && keyBytes[start] === 0) start++;
    const first = keyBytes[start] ?? 0;
    const bits = (modulus.end - start) * 8 - (Math.clz32(first) - 24);
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      throw new CaError(CaErrorCode.KeyUnsupported, `RSA key of ${bits} bits; need ${MIN_RSA_BITS}–${MAX_RSA_BITS}`);
    }
    return { keyKind: KeyKind.Rsa, ecPoint: new Uint8Array(0), rsaBits: bits };
  }
  throw new CaError(CaErrorCode.KeyUnsupported, `public key algorithm ${alg} is not supported; use ECDSA P-256/P-384 or RSA`);
}

function parseAttributes(der: Uint8Array, attrs: Tlv): { uris: string[]; other: number } {
  // [0] IMPLICIT SET OF Attribute
  if (attrs.tag !== 0xa0) throw new DerError('CertificationRequestInfo attributes must be [0]');
  const result = { uris: [] as string[], other: 0 };
  let sawExtensions = false;
  for (const attr of children(der, attrs)) {
    if (attr.tag !== Tag.Sequence) throw new DerError('malformed attribute');
    const [typeTlv, valuesTlv] = children(der, attr);
    if (typeTlv === undefined || valuesTlv?.tag !== Tag.Set) throw new DerError('malformed attribute');
    if (decodeOid(der, typeTlv) !== Oid.extensionRequest) continue;
    if (sawExtensions) throw new DerError('more than one extensionRequest attribute');
    sawExtensions = true;
    const [extsTlv, ...extraValues] = children(der, valuesTlv);
    if (extsTlv?.tag !== Tag.Sequence || extraValues.length > 0) throw new DerError('malformed extensionRequest');
    let sawSan = false;
    for (const ext of children(der, extsTlv)) {
      const fields = children(der, ext);
      const oidTlv = fields[0];
      const valueTlv = fields[fields.length - 1];
      if (oidTlv === undefined || valueTlv?.tag !== Tag.OctetString || fields.length < 2) throw new DerError('malformed extension');
      if (decodeOid(der, oidTlv) !== Oid.subjectAltName) continue;
      if (sawSan) throw new DerError('more than one subjectAltName extension');
      sawSan = true;
      collectGeneralNames(der, valueTlv, result);
    }
  }
  return result;
}

function collectGeneralNames(der: Uint8Array, octets: Tlv, into: { uris: string[]; other: number }): void {
  const names = readTlv(der, octets.contentStart, octets.end);
  if (names.tag !== Tag.Sequence || names.end !== octets.end) throw new DerError('malformed GeneralNames');
  for (const name of children(der, names)) {
    // uniformResourceIdentifier [6] IMPLICIT IA5String
    if (name.tag === 0x86) {
      const bytes = der.subarray(name.contentStart, name.end);
      for (const b of bytes) if (b > 0x7e || b < 0x21) throw new CaError(CaErrorCode.San, 'URI SAN has non-printable or non-ASCII bytes');
      into.uris.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'));
    } else {
      into.other++;
    }
  }
}
