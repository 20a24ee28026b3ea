import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { Tag, encodeOid, encodeTime, encodeUnsignedInteger, seq, tlv } from './der.ts';
import { Oid } from './oids.ts';

/**
 * Hand-written DER for leaf certificates. This is the signer's hot path: building the
 * TBSCertificate here costs a few microseconds, against ~1 ms through a general ASN.1 library.
 * Everything that does not change per certificate is encoded once, in `leafTemplate`.
 */

export type GeneralName = { readonly kind: 'uri' | 'dns'; readonly value: string };

/** Issuer-dependent constants, computed when the signing material is loaded. */
export interface LeafTemplate {
  readonly signatureAlgorithm: Buffer;
  readonly digest: 'sha256' | 'sha384';
  readonly issuer: Uint8Array;
  readonly authorityKeyIdExt: Buffer;
}

const VERSION_V3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);
const EMPTY_NAME = Buffer.from([0x30, 0x00]);
const TRUE = Buffer.from([Tag.Boolean, 0x01, 0xff]);
const NULL = Buffer.from([Tag.Null, 0x00]);

function extension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  return critical
    ? seq(encodeOid(oid), TRUE, tlv(Tag.OctetString, value))
    : seq(encodeOid(oid), tlv(Tag.OctetString, value));
}

// cA defaults to FALSE, and DER omits defaults, so "not a CA" is an empty SEQUENCE.
const BASIC_CONSTRAINTS_LEAF = extension(Oid.basicConstraints, true, seq());
// KeyUsage bit 0 digitalSignature; bit 2 keyEncipherment. DER drops trailing zero bits.
const KEY_USAGE_SIGN = extension(Oid.keyUsage, true, Buffer.from([Tag.BitString, 0x02, 0x07, 0x80]));
const KEY_USAGE_SIGN_ENCIPHER = extension(Oid.keyUsage, true, Buffer.from([Tag.BitString, 0x02, 0x05, 0xa0]));
const EXT_KEY_USAGE = extension(Oid.extKeyUsage, false, seq(encodeOid(Oid.serverAuth), encodeOid(Oid.clientAuth)));
const SAN_OID = encodeOid(Oid.subjectAltName);

export const SignatureAlgorithm = {
  ecdsaSha256: seq(encodeOid(Oid.ecdsaWithSha256)),
  ecdsaSha384: seq(encodeOid(Oid.ecdsaWithSha384)),
  // RFC 4055 §5: RSA PKCS#1 v1.5 identifiers carry explicit NULL parameters.
  rsaSha256: seq(encodeOid(Oid.sha256WithRsa), NULL),
} as const;

export function authorityKeyIdExtension(keyId: Uint8Array): Buffer {
  return extension(Oid.authorityKeyIdentifier, false, seq(tlv(0x80, keyId)));
}

/** A random, positive serial of 128 bits (CA/B BR §7.1 asks for ≥64 bits of entropy). */
export function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  // A leading zero byte would make the DER INTEGER non-minimal; the bias this adds is negligible.
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes;
}

export interface LeafFields {
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo DER, copied verbatim from the request. */
  readonly spki: Uint8Array;
  readonly sans: readonly GeneralName[];
  /** RSA subject keys may also be used for key transport (TLS 1.2 RSA key exchange). */
  readonly keyEncipherment: boolean;
}

/** GeneralNames: uniformResourceIdentifier [6] and dNSName [2], both IA5String. */
export function encodeGeneralNames(names: readonly GeneralName[]): Buffer {
  return seq(...names.map((n) => tlv(n.kind === 'uri' ? 0x86 : 0x82, Buffer.from(n.value, 'latin1'))));
}

function encodeSan(names: readonly GeneralName[]): Buffer {
  // RFC 5280 §4.2.1.6: with an empty subject, the SAN extension must be critical.
  return seq(SAN_OID, TRUE, tlv(Tag.OctetString, encodeGeneralNames(names)));
}

export function encodeLeafTbs(template: LeafTemplate, fields: LeafFields): Buffer {
  const extensions = seq(
    BASIC_CONSTRAINTS_LEAF,
    fields.keyEncipherment ? KEY_USAGE_SIGN_ENCIPHER : KEY_USAGE_SIGN,
    EXT_KEY_USAGE,
    encodeSan(fields.sans),
    template.authorityKeyIdExt,
  );
  return seq(
    VERSION_V3,
    encodeUnsignedInteger(fields.serial),
    template.signatureAlgorithm,
    template.issuer,
    seq(encodeTime(fields.notBefore), encodeTime(fields.notAfter)),
    EMPTY_NAME,
    fields.spki,
    tlv(0xa3, extensions),
  );
}

export function encodeCertificate(template: LeafTemplate, tbs: Uint8Array, signature: Uint8Array): Buffer {
  return seq(tbs, template.signatureAlgorithm, tlv(Tag.BitString, Buffer.from([0]), signature));
}
