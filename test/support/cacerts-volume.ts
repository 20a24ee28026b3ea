/**
 * A plugged-in CA in Istio's cacerts layout, kept the way a Kubernetes Secret volume keeps
 * it: each version in a directory of its own, `..data` swapped to it in one rename, and the
 * files Meridian reads linked through `..data`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { CacertsFile, loadCacerts, writeCacertsAtomically, type CaAuthority, type CaCertificate } from '@meridian/ca';

export class CacertsVolume {
  readonly dir: string;
  private version = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Publishes `signing` (issued by `parent`) with `roots` as the trust bundle, root of the
   * chain first; resolves with the authority Meridian will load from it.
   */
  async publish(signing: CaCertificate, parent: CaAuthority, roots: readonly CaAuthority[]): Promise<CaAuthority> {
    const first = this.version === 0;
    if (first) mkdirSync(this.dir);
    const version = `..v${++this.version}`;
    const written = await writeCacertsAtomically(path.join(this.dir, version), {
      certDer: signing.certDer, key: signing.key, chainDer: [parent.certDer], rootsDer: roots.map((r) => r.certDer),
    });
    assert.ok(written, `${version} written`);
    symlinkSync(version, path.join(this.dir, '..data_tmp'));
    renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    if (first) for (const f of Object.values(CacertsFile)) symlinkSync(path.join('..data', f), path.join(this.dir, f));
    return loadCacerts(path.join(this.dir, version));
  }
}
