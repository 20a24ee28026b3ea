import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { certificateParts } from './cert-der.ts';
import { KeyKind } from './csr.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { certToPem } from './pem.ts';
import { x509 } from './x509.ts';

/**
 * Validated signing material: a CA certificate, its private key, the intermediates above it and
 * the trusted roots. Built only by `createAuthority`, so holding one means every check passed.
 */
export interface CaAuthority {
  readonly cert: X509Certificate;
  readonly certDer: Buffer;
  readonly key: KeyObject;
  readonly keyKind: KeyKind;
  /** Certificates between the signing certificate and the root, nearest first. */
  readonly intermediatesDer: readonly Buffer[];
  /** All trusted roots; the one the chain ends in comes first. */
  readonly rootsDer: readonly Buffer[];
  /** What follows an issued leaf in a returned chain: signing cert (unless it is the root), intermediates, root. */
  readonly chainAfterLeafPem: readonly string[];
  readonly subjectDer: Uint8Array;
  readonly subjectKeyId: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The earliest expiry along signing cert, intermediates and root: nothing issued may outlive it. */
  readonly chainNotAfter: Date;
  readonly isRoot: boolean;
}

export interface AuthorityInput {
  readonly certDer: Uint8Array;
  readonly key: KeyObject;
  /** Istio's cert-chain.pem contents; may start with the signing cert and end with the root. */
  readonly chainDer?: readonly Uint8Array[];
  /** Trust anchors; for a self-signed root, omit or pass the root itself. */
  readonly rootsDer?: readonly Uint8Array[];
  readonly now?: Date;
  /** Names the source in error messages (a directory, "self-signed root"...). */
  readonly source?: string;
}

export function keyKindOf(key: KeyObject): KeyKind | undefined {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (d?.namedCurve === 'prime256v1') return KeyKind.EcP256;
    if (d?.namedCurve === 'secp384r1') return KeyKind.EcP384;
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= 2048) return KeyKind.Rsa;
  return undefined;
}

function parseCert(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch (err) {
    throw new CaError(CaErrorCode.Config, `${what} is not a valid X.509 certificate`, { cause: err });
  }
}

function checkIsCa(cert: X509Certificate, der: Uint8Array, what: string): void {
  if (!cert.ca) throw new CaError(CaErrorCode.NotCa, `${what} (${cert.subject}) is not a CA: basicConstraints cA is not set`);
  const ku = new x509.X509Certificate(der).getExtension(x509.KeyUsagesExtension);
  if (ku !== null && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CaError(CaErrorCode.NotCa, `${what} (${cert.subject}) keyUsage lacks keyCertSign`);
  }
}

function checkValidity(cert: X509Certificate, now: Date, what: string, code: CaErrorCode): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from) throw new CaError(code, `${what} (${cert.subject}) is not valid before ${from.toISOString()}`);
  if (now > to) throw new CaError(code, `${what} (${cert.subject}) expired at ${to.toISOString()}`);
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function subjectKeyIdOf(der: Uint8Array): Uint8Array {
  const ski = new x509.X509Certificate(der).getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) return Buffer.from(ski.keyId, 'hex');
  // RFC 5280 §4.2.1.2 method (1), so leaves still get an AKI when the CA omitted its SKI.
  return createHash('sha1').update(certificateParts(der).publicKeyBits).digest();
}

/** Validates signing material and returns it ready for the signer; throws a CaError saying what is wrong. */
export function createAuthority(input: AuthorityInput): CaAuthority {
  const now = input.now ?? new Date();
  const src = input.source ?? 'CA';
  const certDer = Buffer.from(input.certDer);
  const cert = parseCert(certDer, `${src}: signing certificate`);

  const keyKind = keyKindOf(input.key);
  if (input.key.type !== 'private' || keyKind === undefined) {
    throw new CaError(CaErrorCode.Config, `${src}: CA key must be an ECDSA P-256/P-384 or RSA ≥2048 private key`);
  }
  if (!cert.checkPrivateKey(input.key)) {
    throw new CaError(CaErrorCode.KeyMismatch, `${src}: private key does not match the signing certificate (${cert.subject})`);
  }
  checkIsCa(cert, certDer, `${src}: signing certificate`);
  checkValidity(cert, now, `${src}: signing certificate`, CaErrorCode.CaExpired);

  const selfSigned = signedBy(cert, cert);
  const roots = (input.rootsDer ?? []).map((d, i) => ({ der: Buffer.from(d), cert: parseCert(d, `${src}: root ${i + 1}`) }));
  if (roots.length === 0) {
    if (!selfSigned) throw new CaError(CaErrorCode.Chain, `${src}: no root certificate given and the signing certificate is not self-signed`);
    roots.push({ der: certDer, cert });
  }
  for (const r of roots) {
    if (!signedBy(r.cert, r.cert)) throw new CaError(CaErrorCode.Chain, `${src}: root (${r.cert.subject}) is not self-signed`);
    checkIsCa(r.cert, r.der, `${src}: root`);
  }

  // cert-chain.pem may or may not repeat the signing cert and the root; keep only what lies between.
  const isRoot = (der: Buffer): boolean => roots.some((r) => r.der.equals(der));
  const intermediates = (input.chainDer ?? [])
    .map((d) => Buffer.from(d))
    .filter((d, i) => !(i === 0 && d.equals(certDer)) && !isRoot(d))
    .map((der, i) => ({ der, cert: parseCert(der, `${src}: chain certificate ${i + 1}`) }));

  const thisIsRoot = isRoot(certDer);
  let child = cert;
  for (const inter of thisIsRoot ? [] : intermediates) {
    if (!signedBy(child, inter.cert)) {
      throw new CaError(CaErrorCode.Chain, `${src}: ${child.subject} is not signed by the next chain certificate ${inter.cert.subject}`);
    }
    checkIsCa(inter.cert, inter.der, `${src}: chain certificate`);
    checkValidity(inter.cert, now, `${src}: chain certificate`, CaErrorCode.Chain);
    child = inter.cert;
  }
  const anchor = thisIsRoot ? roots.find((r) => r.der.equals(certDer)) : roots.find((r) => signedBy(child, r.cert));
  if (anchor === undefined) {
    throw new CaError(CaErrorCode.Chain, `${src}: chain ending at ${child.subject} does not verify to any root in root-cert.pem`);
  }
  checkValidity(anchor.cert, now, `${src}: root`, CaErrorCode.Chain);

  const orderedRoots = [anchor.der, ...roots.filter((r) => r !== anchor).map((r) => r.der)];
  const intermediatesDer = thisIsRoot ? [] : intermediates.map((i) => i.der);
  const chainAfterLeaf = thisIsRoot ? [anchor.der] : [certDer, ...intermediatesDer, anchor.der];
  return {
    cert,
    certDer,
    key: input.key,
    keyKind,
    intermediatesDer,
    rootsDer: orderedRoots,
    chainAfterLeafPem: chainAfterLeaf.map(certToPem),
    subjectDer: certificateParts(certDer).subject,
    subjectKeyId: subjectKeyIdOf(certDer),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    chainNotAfter: new Date(Math.min(...[cert, ...(thisIsRoot ? [] : intermediates.map((i) => i.cert)), anchor.cert].map((c) => Date.parse(c.validTo)))),
    isRoot: thisIsRoot,
  };
}
