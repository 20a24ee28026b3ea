import { access } from 'node:fs/promises';
import path from 'node:path';
import type { CaAuthority } from './authority.ts';
import { createIntermediate } from './ca-certificates.ts';
import { loadCacerts, writeCacertsAtomically } from './cacerts.ts';
import { CaError, CaErrorCode } from './errors.ts';
import type { CaKeyAlgorithm } from './key-algorithm.ts';
import { SELF_SIGNED_SUBDIR } from './ca-store.ts';
import { x509 } from './x509.ts';

export interface MintIntermediateOptions {
  /** A cacerts directory holding the root, or a self-signed store directory (its `cacerts/` is used). */
  readonly rootDir: string;
  readonly clusterId: string;
  /** Must not exist yet (or be empty): key material is never overwritten. */
  readonly outDir: string;
  /** Default: the root's organization (our roots record the trust domain there). */
  readonly trustDomain?: string;
  readonly keyAlgorithm?: CaKeyAlgorithm;
  readonly validityDays?: number;
  readonly now?: Date;
}

async function resolveRootDir(dir: string): Promise<string> {
  const nested = path.join(dir, SELF_SIGNED_SUBDIR);
  try {
    await access(nested);
    return nested;
  } catch {
    return dir;
  }
}

/**
 * Multi-primary: one intermediate per cluster under a shared root, written in cacerts layout
 * (ca-cert = intermediate, cert-chain = intermediate + root, root-cert = root). Backs
 * `meridian ca intermediate --root-dir DIR --cluster ID --out DIR`.
 */
export async function mintIntermediateCacerts(opts: MintIntermediateOptions): Promise<CaAuthority> {
  const nowOpt = opts.now === undefined ? {} : { now: opts.now };
  const root = await loadCacerts(await resolveRootDir(opts.rootDir), nowOpt);
  const trustDomain =
    opts.trustDomain ?? new x509.X509Certificate(root.certDer).subjectName.getField('O')[0] ?? 'cluster.local';
  const inter = await createIntermediate({
    parent: root,
    clusterId: opts.clusterId,
    trustDomain,
    ...nowOpt,
    ...(opts.keyAlgorithm === undefined ? {} : { keyAlgorithm: opts.keyAlgorithm }),
    ...(opts.validityDays === undefined ? {} : { validityDays: opts.validityDays }),
  });
  const rootsDer = root.rootsDer;
  const chainDer = [...root.intermediatesDer, ...(root.isRoot ? [] : [root.certDer]), ...rootsDer.slice(0, 1)];
  const written = await writeCacertsAtomically(opts.outDir, { certDer: inter.certDer, key: inter.key, chainDer, rootsDer });
  if (!written) throw new CaError(CaErrorCode.Storage, `${opts.outDir} already exists and is not empty; refusing to overwrite CA material`);
  return loadCacerts(opts.outDir, nowOpt);
}
