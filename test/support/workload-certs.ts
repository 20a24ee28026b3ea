/**
 * Workload certificates as an Istio agent leaves them on disk (`cert-chain.pem`, `key.pem`,
 * `root-cert.pem`), issued straight from `@meridian/ca` so a test needs no certificate API.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createCsr, loadOrCreateSelfSignedCa, SvidSigner, trustBundlePem, type CaAuthority } from '@meridian/ca';

export interface TestCa {
  readonly trustDomain: string;
  readonly signer: SvidSigner;
  /** The root(s) a workload trusts, PEM. */
  readonly rootPem: string;
}

/** The self-signed CA Meridian itself would create (or load) in `dir`: same layout, same root. */
export async function openTestCa(dir: string, trustDomain: string): Promise<TestCa> {
  const { authority } = await loadOrCreateSelfSignedCa({ dir, trustDomain });
  return testCaOf(authority, trustDomain);
}

/** Issues as `authority` does (a plugged-in CA Meridian loaded too), trusting its roots. */
export function testCaOf(authority: CaAuthority, trustDomain: string): TestCa {
  return {
    trustDomain,
    signer: new SvidSigner({ trustDomain, authority }),
    rootPem: trustBundlePem(authority.rootsDer).join(''),
  };
}

export interface WorkloadCertOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Roots to write as root-cert.pem; default the issuing CA's. Lets a test trust one root and hold a leaf of another. */
  readonly rootPem?: string;
}

/** Issues an SVID for `ns/sa` into `dir`; returns its SPIFFE ID. */
export async function writeWorkloadCerts(ca: TestCa, dir: string, opts: WorkloadCertOptions): Promise<string> {
  const spiffeId = `spiffe://${ca.trustDomain}/ns/${opts.namespace}/sa/${opts.serviceAccount}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const svid = await ca.signer.sign({ csr: createCsr({ key: privateKey, uris: [spiffeId] }).pem });
  mkdirSync(dir, { recursive: true });
  // The chain without its root, as Istio's agent writes it; the root goes to root-cert.pem.
  const chain = svid.certChainPem.length > 1 ? svid.certChainPem.slice(0, -1) : svid.certChainPem;
  writeFileSync(path.join(dir, 'cert-chain.pem'), chain.join(''));
  writeFileSync(path.join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(path.join(dir, 'root-cert.pem'), opts.rootPem ?? ca.rootPem);
  return spiffeId;
}
