import { Buffer } from 'node:buffer';
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { Tag, encodeOid, seq, tlv } from './der.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { SignatureAlgorithm, encodeGeneralNames, type GeneralName } from './leaf-encoder.ts';
import { Oid } from './oids.ts';
import { toPem } from './pem.ts';

export interface CsrOptions {
  /** The requester's private key: ECDSA P-256/P-384 or RSA. */
  readonly key: KeyObject;
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
}

export interface Csr {
  readonly der: Buffer;
  readonly pem: string;
}

/**
 * A PKCS#10 request with an empty subject and the given SANs, as an Istio agent sends it.
 * For clients of the certificate service (tests, benchmarks, tools).
 */
export function createCsr(opts: CsrOptions): Csr {
  const { key } = opts;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const alg =
    key.asymmetricKeyType === 'rsa'
      ? { id: SignatureAlgorithm.rsaSha256, digest: 'sha256' }
      : curve === 'prime256v1'
        ? { id: SignatureAlgorithm.ecdsaSha256, digest: 'sha256' }
        : curve === 'secp384r1'
          ? { id: SignatureAlgorithm.ecdsaSha384, digest: 'sha384' }
          : undefined;
  if (key.type !== 'private' || alg === undefined) {
    throw new CaError(CaErrorCode.KeyUnsupported, 'CSR key must be an ECDSA P-256/P-384 or RSA private key');
  }
  const names: GeneralName[] = [
    ...(opts.uris ?? []).map((value) => ({ kind: 'uri' as const, value })),
    ...(opts.dnsNames ?? []).map((value) => ({ kind: 'dns' as const, value })),
  ];
  const attributes =
    names.length === 0
      ? tlv(0xa0)
      : tlv(
          0xa0,
          seq(
            encodeOid(Oid.extensionRequest),
            tlv(Tag.Set, seq(seq(encodeOid(Oid.subjectAltName), tlv(Tag.OctetString, encodeGeneralNames(names))))),
          ),
        );
  const info = seq(
    Buffer.from([Tag.Integer, 0x01, 0x00]),
    seq(),
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    attributes,
  );
  const signature = sign(alg.digest, info, key);
  const der = seq(info, alg.id, tlv(Tag.BitString, Buffer.from([0]), signature));
  return { der, pem: toPem(der, 'CERTIFICATE REQUEST') };
}
