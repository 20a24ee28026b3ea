// Runs every test file with Node's own test runner. Node 20 has no glob support
// in `node --test`, so the files are listed here and passed explicitly.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const roots = ['packages', 'test'];
const files = [];
function walk(dir) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) walk(full);
    else if (entry.endsWith('.test.ts')) files.push(full);
  }
}
for (const root of roots) walk(root);
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// --test-force-exit: @grpc/grpc-js-xds keeps its ADS stream and reconnect timers alive after
// every channel is closed, so a test file that used it would otherwise never exit.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=2', '--test-timeout=180000', ...selected],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
