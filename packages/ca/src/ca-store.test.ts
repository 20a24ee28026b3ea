import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadOrCreateSelfSignedCa, SELF_SIGNED_SUBDIR } from './ca-store.ts';
import { CacertsFile } from './cacerts.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { withTempDir } from './testing/index.ts';

const START = fileURLToPath(new URL('./testdata/start-ca.ts', import.meta.url));

function startProcess(dir: string, mode?: string): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', START, dir, ...(mode === undefined ? [] : [mode])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out: out + err }));
  });
}

describe('self-signed CA store', () => {
  it('creates a root once with private permissions, then reuses it', async () => {
    await withTempDir(async (tmp) => {
      const dir = path.join(tmp, 'ca');
      const first = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' });
      assert.equal(first.created, true);
      assert.equal(first.authority.isRoot, true);
      const cacerts = path.join(dir, SELF_SIGNED_SUBDIR);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      assert.equal((await stat(cacerts)).mode & 0o777, 0o700);
      for (const f of Object.values(CacertsFile)) assert.equal((await stat(path.join(cacerts, f))).mode & 0o777, 0o600, f);
      const again = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' });
      assert.equal(again.created, false);
      assert.equal(again.authority.cert.fingerprint256, first.authority.cert.fingerprint256);
      assert.deepEqual((await readdir(dir)).sort(), [SELF_SIGNED_SUBDIR]);
    });
  });

  it('the root has the CA profile: 10 years, CA critical, keyCertSign+cRLSign critical, SKI = AKI', async () => {
    await withTempDir(async (dir) => {
      const { authority } = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' });
      const { x509 } = await import('./x509.ts');
      const root = new x509.X509Certificate(authority.certDer);
      const years = (root.notAfter.getTime() - root.notBefore.getTime()) / (365.25 * 24 * 3600 * 1000);
      assert.ok(years > 9.9 && years < 10.1, String(years));
      const bc = root.getExtension(x509.BasicConstraintsExtension);
      assert.equal(bc?.ca, true);
      assert.equal(bc.critical, true);
      const ku = root.getExtension(x509.KeyUsagesExtension);
      assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
      assert.equal(ku.critical, true);
      const ski = root.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
      assert.ok(ski);
      assert.equal(root.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, ski);
      assert.equal(authority.keyKind, 'EC-P256');
    });
  });

  it('concurrent first starts (separate processes) end with exactly one root', async () => {
    await withTempDir(async (dir) => {
      // slow-commit holds each writer just before its rename, so all of them really race there.
      const results = await Promise.all([startProcess(dir, 'slow-commit'), startProcess(dir, 'slow-commit'), startProcess(dir, 'slow-commit')]);
      const parsed = results.map((r) => {
        assert.equal(r.code, 0, r.out);
        return JSON.parse(r.out) as { created: boolean; fingerprint: string };
      });
      assert.equal(new Set(parsed.map((p) => p.fingerprint)).size, 1, 'all processes use the same root');
      assert.equal(parsed.filter((p) => p.created).length, 1, 'exactly one process created it');
      const later = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' });
      assert.equal(later.created, false);
      assert.equal(later.authority.cert.fingerprint256, parsed[0]?.fingerprint);
      assert.deepEqual(await readdir(dir), [SELF_SIGNED_SUBDIR], 'no staging left behind');
    });
  });

  it('a process killed mid-write leaves no CA; the next start creates one and clears the leftover', async () => {
    await withTempDir(async (dir) => {
      const crashed = await startProcess(dir, 'crash-before-commit');
      assert.equal(crashed.signal, 'SIGKILL');
      const left = await readdir(dir);
      assert.equal(left.length, 1);
      assert.match(left[0] ?? '', /^\.cacerts\.staging-/);
      assert.deepEqual((await readdir(path.join(dir, left[0] ?? ''))).sort(), Object.values(CacertsFile).sort(), 'files were complete but uncommitted');

      const next = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local', staleStagingMs: 0 });
      assert.equal(next.created, true);
      assert.deepEqual(await readdir(dir), [SELF_SIGNED_SUBDIR]);
    });
  });

  it('a fresh half-written staging directory (another writer, or a crash just now) is ignored', async () => {
    await withTempDir(async (dir) => {
      const staging = path.join(dir, '.cacerts.staging-99999-abc');
      await mkdir(staging, { recursive: true });
      await writeFile(path.join(staging, CacertsFile.key), '-----BEGIN PRIVATE KEY-----\nMIG');
      const ca = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' });
      assert.equal(ca.created, true);
      assert.deepEqual((await readdir(dir)).sort(), ['.cacerts.staging-99999-abc', SELF_SIGNED_SUBDIR]);
    });
  });

  it('never overwrites an existing but broken CA', async () => {
    await withTempDir(async (dir) => {
      const ca = await loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' });
      const keyFile = path.join(ca.cacertsDir, CacertsFile.key);
      const other = await loadOrCreateSelfSignedCa({ dir: path.join(dir, 'other'), trustDomain: 'cluster.local' });
      const { readFile } = await import('node:fs/promises');
      await writeFile(keyFile, await readFile(path.join(other.cacertsDir, CacertsFile.key)));
      await assert.rejects(loadOrCreateSelfSignedCa({ dir, trustDomain: 'cluster.local' }), (err: unknown) => {
        assert.ok(err instanceof CaError);
        assert.equal(err.code, CaErrorCode.KeyMismatch);
        return true;
      });
      assert.notEqual(await readFile(keyFile, 'utf8'), '', 'still there');
    });
  });
});
