import type { Dirent } from 'node:fs';
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface ManifestListing {
  /** Manifest files by the path a user sees (a symlink's own path), sorted. */
  readonly files: readonly string[];
  /** Every directory whose entries can change a manifest: the tree itself and symlink targets' directories. */
  readonly directories: ReadonlySet<string>;
  /** Manifest names that cannot be read as files, with why (a dangling symlink, say). */
  readonly broken: ReadonlyMap<string, string>;
  /** Directories that could not be listed; the files last seen under them are kept. */
  readonly unreadable: ReadonlyMap<string, string>;
}

/**
 * Lists a manifest tree. Names starting with `.` are skipped: editors' temporary files and
 * Kubernetes' `..data` / `..<timestamp>` entries behind a mounted ConfigMap, whose visible
 * files are symlinks into them. Symlinks are followed (a directory only once, so a loop ends).
 */
export async function listManifests(root: string): Promise<ManifestListing> {
  const files: string[] = [];
  const directories = new Set<string>([root]);
  const broken = new Map<string, string>();
  const unreadable = new Map<string, string>();
  const visited = new Set<string>();

  async function walk(dir: string, real: string): Promise<void> {
    if (visited.has(real)) return;
    visited.add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (dir === root) throw err;
      unreadable.set(dir, errnoMessage(err));
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      const isManifest = MANIFEST_EXTENSIONS.has(path.extname(entry.name));
      if (entry.isDirectory()) {
        directories.add(full);
        await walk(full, path.join(real, entry.name));
      } else if (entry.isFile()) {
        if (isManifest) files.push(full);
      } else if (entry.isSymbolicLink()) {
        await followLink(full, isManifest);
      }
    }
  }

  async function followLink(link: string, isManifest: boolean): Promise<void> {
    let target;
    let real;
    try {
      target = await stat(link);
      real = await realpath(link);
    } catch (err) {
      if (isManifest) broken.set(link, `symlink to ${await readlink(link).catch(() => '?')}: ${errnoMessage(err)}`);
      return;
    }
    if (target.isDirectory()) {
      directories.add(real);
      await walk(link, real);
    } else if (target.isFile() && isManifest) {
      files.push(link);
      // An edit of the target in place shows only in the target's own directory.
      directories.add(path.dirname(real));
    }
  }

  await walk(root, await realpath(root));
  return { files: files.sort(), directories, broken, unreadable };
}

function errnoMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : String(err);
}
