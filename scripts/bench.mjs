// `pnpm bench <name>` runs test/bench/<name>.bench.ts. Each bench prints one JSON object per
// line per measure: {"bench", "value", "unit", "baseline", "ratio"}, the baseline measured
// in the same run on the same machine, so ratios stay comparable on noisy shared hosts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = path.resolve(import.meta.dirname, '../test/bench');
const available = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
const [name, ...args] = process.argv.slice(2);
if (!name || !existsSync(path.join(dir, `${name}.bench.ts`))) {
  console.error(`usage: pnpm bench <name> — one of: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(dir, `${name}.bench.ts`), ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
