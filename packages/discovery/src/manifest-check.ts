/**
 * A manifest directory read once, the way `meridian validate` wants it: every problem a
 * running source would report for it (unlistable directories, broken links, files that do
 * not parse, with the document at fault), and the configuration documents it holds.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigDocument } from '@meridian/model';
import { listManifests } from './manifest-files.ts';
import { ManifestError, parseManifest } from './manifest-parser.ts';

export interface ManifestCheck {
  /** `file: what is wrong`, files relative to the directory. */
  readonly problems: readonly string[];
  readonly config: readonly ConfigDocument[];
}

export async function checkManifestDirectory(directory: string): Promise<ManifestCheck> {
  const listing = await listManifests(directory);
  const relative = (f: string) => path.relative(directory, f) || '.';
  const problems: string[] = [
    ...[...listing.unreadable].map(([dir, why]) => `${relative(dir)}: cannot be listed: ${why}`),
    ...[...listing.broken].map(([file, why]) => `${relative(file)}: ${why}`),
  ];
  const config: ConfigDocument[] = [];
  for (const file of listing.files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      problems.push(`${relative(file)}: cannot be read: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    try {
      const parsed = parseManifest(text);
      config.push(...parsed.config.map((c) => ({ value: c.value, origin: `${relative(file)}:${c.line}` })));
    } catch (err) {
      problems.push(`${relative(file)}: ${err instanceof ManifestError ? err.message : String(err)}`);
    }
  }
  return { problems, config };
}
