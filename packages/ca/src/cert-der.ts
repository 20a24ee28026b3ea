import { DerError, Tag, children, expectTlv } from './der.ts';

/** Raw byte views of a certificate's fields that must be copied exactly into certificates it issues. */
export interface CertificateParts {
  readonly subject: Uint8Array;
  readonly spki: Uint8Array;
  /** The subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2 key-identifier input). */
  readonly publicKeyBits: Uint8Array;
}

export function certificateParts(der: Uint8Array): CertificateParts {
  const cert = expectTlv(der, 0, der.length, Tag.Sequence, 'Certificate');
  const [tbs] = children(der, cert);
  if (tbs?.tag !== Tag.Sequence) throw new DerError('Certificate without TBSCertificate');
  const fields = children(der, tbs);
  // Skip the optional [0] version so the indices below are fixed.
  const f = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  const subject = f[4];
  const spki = f[5];
  if (subject?.tag !== Tag.Sequence || spki?.tag !== Tag.Sequence) throw new DerError('TBSCertificate too short');
  const spkiFields = children(der, spki);
  const bits = spkiFields[1];
  if (bits?.tag !== Tag.BitString) throw new DerError('SubjectPublicKeyInfo without key');
  return {
    subject: der.subarray(subject.start, subject.end),
    spki: der.subarray(spki.start, spki.end),
    publicKeyBits: der.subarray(bits.contentStart + 1, bits.end),
  };
}
