import { type Buffer } from 'node:buffer';
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { createAuthority, type CaAuthority } from './authority.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { certToPem, fromPemAll, toPem } from './pem.ts';

/** Istio's plug-in CA layout (`cacerts` Secret / directory). */
export const CacertsFile = {
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  roots: 'root-cert.pem',
} as const;

export interface CacertsMaterial {
  readonly certDer: Uint8Array;
  readonly key: KeyObject;
  /** Written to cert-chain.pem after the signing cert: intermediates then root. */
  readonly chainDer: readonly Uint8Array[];
  readonly rootsDer: readonly Uint8Array[];
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CaError(CaErrorCode.Config, `cannot read ${file}`, { cause: err });
  }
}

async function readRequired(file: string): Promise<string> {
  const text = await readOptional(file);
  if (text === undefined) throw new CaError(CaErrorCode.Config, `missing ${file}`);
  return text;
}

function certsIn(text: string, file: string): Buffer[] {
  const certs = fromPemAll(text, 'CERTIFICATE');
  if (certs.length === 0) throw new CaError(CaErrorCode.Config, `${file} holds no PEM CERTIFICATE`);
  return certs;
}

/** Loads and validates a CA directory in cacerts layout; cert-chain.pem may be absent for a root. */
export async function loadCacerts(dir: string, opts: { now?: Date } = {}): Promise<CaAuthority> {
  const certFile = path.join(dir, CacertsFile.cert);
  const keyFile = path.join(dir, CacertsFile.key);
  const chainFile = path.join(dir, CacertsFile.chain);
  const rootsFile = path.join(dir, CacertsFile.roots);
  // Read together, reported in a fixed order: the error names every missing file, not
  // whichever read happened to fail first.
  const [cert, keyRead, chain, roots] = await Promise.allSettled([
    readRequired(certFile),
    readRequired(keyFile),
    readOptional(chainFile),
    readRequired(rootsFile),
  ]);
  const failures = [cert, keyRead, chain, roots].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    const messages = failures.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new CaError(CaErrorCode.Config, messages.join('; '), { cause: failures[0] });
  }
  const value = <T>(r: PromiseSettledResult<T>): T => (r as PromiseFulfilledResult<T>).value;
  const [certText, keyText, chainText, rootsText] = [value(cert), value(keyRead), value(chain), value(roots)];
  const [certDer, ...extra] = certsIn(certText, certFile);
  if (certDer === undefined || extra.length > 0) throw new CaError(CaErrorCode.Config, `${certFile} must hold exactly one certificate`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (err) {
    throw new CaError(CaErrorCode.Config, `${keyFile} is not a readable unencrypted private key`, { cause: err });
  }
  return createAuthority({
    certDer,
    key,
    chainDer: chainText === undefined || chainText.trim() === '' ? [] : certsIn(chainText, chainFile),
    rootsDer: certsIn(rootsText, rootsFile),
    source: dir,
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
}

async function writeSynced(file: string, data: string): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const STAGING_MARK = '.staging-';

function stagingPrefix(finalDir: string): string {
  return `.${path.basename(finalDir)}${STAGING_MARK}`;
}

export type CommitHook = (stagingDir: string) => Promise<void>;

/**
 * Writes a cacerts directory all at once: files go into a hidden sibling, are fsynced, and the
 * sibling is renamed into place. rename(2) of a directory fails on a non-empty target, so it
 * doubles as a create-if-absent: of concurrent writers exactly one wins, and a crash leaves
 * either nothing or a complete directory (plus a stale sibling that `removeStaleStaging` clears).
 *
 * Returns false, having written nothing, when `finalDir` already holds something.
 */
export async function writeCacertsAtomically(
  finalDir: string,
  material: CacertsMaterial,
  hooks: { beforeCommit?: CommitHook } = {},
): Promise<boolean> {
  const parent = path.dirname(finalDir);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const staging = path.join(parent, `${stagingPrefix(finalDir)}${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    const certPem = certToPem(material.certDer);
    await writeSynced(path.join(staging, CacertsFile.cert), certPem);
    await writeSynced(path.join(staging, CacertsFile.key), toPem(material.key.export({ type: 'pkcs8', format: 'der' }), 'PRIVATE KEY'));
    await writeSynced(path.join(staging, CacertsFile.chain), certPem + material.chainDer.map(certToPem).join(''));
    await writeSynced(path.join(staging, CacertsFile.roots), material.rootsDer.map(certToPem).join(''));
    await syncDir(staging);
    await hooks.beforeCommit?.(staging);
    try {
      await rename(staging, finalDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw err;
    }
    await syncDir(parent);
    return true;
  } catch (err) {
    if (err instanceof CaError) throw err;
    throw new CaError(CaErrorCode.Storage, `cannot write CA material to ${finalDir}`, { cause: err });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Removes staging siblings left by crashed writers. Age-based, because a writer in another
 * process or container may still be busy with a fresh one.
 */
export async function removeStaleStaging(finalDir: string, maxAgeMs: number, now: number = Date.now()): Promise<number> {
  const parent = path.dirname(finalDir);
  const prefix = stagingPrefix(finalDir);
  let removed = 0;
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return 0;
  }
  for (const name of entries) {
    if (!name.startsWith(prefix)) continue;
    const full = path.join(parent, name);
    try {
      const st = await stat(full);
      if (now - st.mtimeMs < maxAgeMs) continue;
      await rm(full, { recursive: true, force: true });
      removed++;
    } catch {
      // Raced with its owner or another cleaner: either way it is gone or not ours to judge.
    }
  }
  return removed;
}
