import { Buffer } from 'node:buffer';
import { randomBytes, type KeyObject } from 'node:crypto';
import type { CaAuthority } from './authority.ts';
import { CaKeyAlgorithm, generateCaKey, toWebKeyPair, webKeyParams, webSigningAlgorithm } from './key-algorithm.ts';
import { x509 } from './x509.ts';

/**
 * CA certificates are made rarely, so they go through @peculiar/x509 rather than the
 * hand-written leaf encoder: readability beats speed here.
 */

const DAY_MS = 24 * 3600 * 1000;
// Clock skew between replicas and the machines that verify; same reasoning as for leaves.
const BACKDATE_MS = 5 * 60 * 1000;

type Generator = typeof x509.X509CertificateGenerator;
type SelfSignedParams = Parameters<Generator['createSelfSigned']>[0];
type CreateParams = Parameters<Generator['create']>[0];
type WebKeys = SelfSignedParams['keys'];

export interface CaCertificate {
  readonly certDer: Buffer;
  readonly key: KeyObject;
}

function caSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b.toString('hex');
}

async function caExtensions(publicKey: WebKeys['publicKey'], pathLength: number | undefined): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
}

export interface SelfSignedRootOptions {
  /** Recorded as the organization, as Istio does, so operators can tell roots apart. */
  readonly trustDomain: string;
  readonly keyAlgorithm?: CaKeyAlgorithm;
  readonly validityDays?: number;
  readonly commonName?: string;
  readonly now?: Date;
}

/** A self-signed root: CA, keyCertSign+cRLSign, SKI = AKI, 10 years unless told otherwise. */
export async function createSelfSignedRoot(opts: SelfSignedRootOptions): Promise<CaCertificate> {
  const alg = opts.keyAlgorithm ?? CaKeyAlgorithm.EcdsaP256;
  const { pair, privateKey } = await generateCaKey(alg);
  const keys = pair as unknown as WebKeys;
  const now = (opts.now ?? new Date()).getTime();
  const aki = await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: caSerial(),
    name: [{ O: [opts.trustDomain] }, { CN: [opts.commonName ?? 'Meridian Root CA'] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + (opts.validityDays ?? 3650) * DAY_MS),
    signingAlgorithm: webSigningAlgorithm(webKeyParams(alg)),
    keys,
    extensions: [...(await caExtensions(keys.publicKey, undefined)), aki],
  });
  return { certDer: Buffer.from(cert.rawData), key: privateKey };
}

export interface IntermediateOptions {
  /** The root (or any CA) that signs the intermediate. */
  readonly parent: CaAuthority;
  /** Names the intermediate (multi-primary: one per cluster). */
  readonly clusterId: string;
  readonly trustDomain: string;
  readonly keyAlgorithm?: CaKeyAlgorithm;
  readonly validityDays?: number;
  readonly now?: Date;
}

/**
 * An intermediate CA for one cluster, chained to `parent`. pathLength 0: it signs workloads
 * only. Its lifetime never exceeds the parent's.
 */
export async function createIntermediate(opts: IntermediateOptions): Promise<CaCertificate> {
  const alg = opts.keyAlgorithm ?? CaKeyAlgorithm.EcdsaP256;
  const { pair, privateKey } = await generateCaKey(alg);
  const keys = pair as unknown as WebKeys;
  const parentKeys = await toWebKeyPair(opts.parent.key);
  const now = (opts.now ?? new Date()).getTime();
  const notAfter = Math.min(now + (opts.validityDays ?? 365) * DAY_MS, opts.parent.chainNotAfter.getTime());
  const parentCert = new x509.X509Certificate(opts.parent.certDer);
  const aki = new x509.AuthorityKeyIdentifierExtension(Buffer.from(opts.parent.subjectKeyId).toString('hex'));
  const params: CreateParams = {
    serialNumber: caSerial(),
    subject: [{ O: [opts.trustDomain] }, { CN: [`Meridian Intermediate CA ${opts.clusterId}`] }],
    issuer: parentCert.subjectName,
    notBefore: new Date(Math.max(now - BACKDATE_MS, opts.parent.notBefore.getTime())),
    notAfter: new Date(notAfter),
    signingAlgorithm: webSigningAlgorithm(parentKeys.params),
    publicKey: keys.publicKey,
    signingKey: parentKeys.pair.privateKey as unknown as WebKeys['privateKey'],
    extensions: [...(await caExtensions(keys.publicKey, 0)), aki],
  };
  const cert = await x509.X509CertificateGenerator.create(params);
  return { certDer: Buffer.from(cert.rawData), key: privateKey };
}
