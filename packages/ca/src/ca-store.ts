import { access } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CaAuthority } from './authority.ts';
import { createSelfSignedRoot } from './ca-certificates.ts';
import { loadCacerts, removeStaleStaging, writeCacertsAtomically, type CommitHook } from './cacerts.ts';
import type { CaKeyAlgorithm } from './key-algorithm.ts';

export interface SelfSignedCaOptions {
  /** Directory owned by Meridian; the CA is kept in `<dir>/cacerts` (Istio cacerts layout). */
  readonly dir: string;
  readonly trustDomain: string;
  readonly keyAlgorithm?: CaKeyAlgorithm;
  readonly validityDays?: number;
  /** Staging directories older than this are crash leftovers. Default 10 min. */
  readonly staleStagingMs?: number;
  readonly now?: Date;
  /** Test seam: runs after the files are durable and before they are committed. */
  readonly beforeCommit?: CommitHook;
}

export interface SelfSignedCa {
  readonly authority: CaAuthority;
  /** True when this call created the root; false when it loaded one (made earlier or by a concurrent starter). */
  readonly created: boolean;
  readonly cacertsDir: string;
}

export const SELF_SIGNED_SUBDIR = 'cacerts';

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * First start: create and persist a self-signed root. Later starts (and concurrent first
 * starts that lose the race) load the one that exists. Never overwrites: an existing but
 * invalid CA fails loudly instead.
 */
export async function loadOrCreateSelfSignedCa(opts: SelfSignedCaOptions): Promise<SelfSignedCa> {
  const cacertsDir = path.join(opts.dir, SELF_SIGNED_SUBDIR);
  const load = (created: boolean) =>
    loadCacerts(cacertsDir, opts.now === undefined ? {} : { now: opts.now }).then((authority) => ({ authority, created, cacertsDir }));
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await removeStaleStaging(cacertsDir, opts.staleStagingMs ?? 10 * 60 * 1000);
  if (await exists(cacertsDir)) return load(false);

  const root = await createSelfSignedRoot({
    trustDomain: opts.trustDomain,
    ...(opts.keyAlgorithm === undefined ? {} : { keyAlgorithm: opts.keyAlgorithm }),
    ...(opts.validityDays === undefined ? {} : { validityDays: opts.validityDays }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  const won = await writeCacertsAtomically(
    cacertsDir,
    { certDer: root.certDer, key: root.key, chainDer: [], rootsDer: [root.certDer] },
    opts.beforeCommit === undefined ? {} : { beforeCommit: opts.beforeCommit },
  );
  return load(won);
}
