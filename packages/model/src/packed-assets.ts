import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The installable CLI is one bundled file with the data files it reads beside it
 * (packages/server/scripts/pack-cli.mjs); inside it every module's `import.meta.url` is the
 * bundle's. Returns `<bundle's directory>/<name>` when the package ships it, undefined when
 * running from the sources, where each package finds its files in the checkout.
 */
export function packedAsset(moduleUrl: string, name: string): string | undefined {
  const file = fileURLToPath(new URL(name, moduleUrl));
  return existsSync(file) ? file : undefined;
}
