import { readFileSync } from 'node:fs';

/**
 * The server package's version, read from its package.json beside `src/`: the same file in a
 * checkout, in an installed tarball and in the container image, so nothing is stamped at build.
 */
export const MERIDIAN_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
