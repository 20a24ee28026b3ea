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
// --test-force-exit: @grpc/grpc-js-xds keeps timers alive after every channel is closed (the
// priority policy retains deactivated children for 15 minutes), so a test file that used it
// would otherwise not exit. With a process per file, Node 22 and later report the results
// of a forced exit unreliably: the last tests of a file are sometimes missing from the
// summary while the run still passes (seen on Node 24.21: 18 to 30 of one file's 30). So
// from Node 22.8 on, the files run in one process (--test-isolation=none), where the forced
// exit comes after every result is reported; Node 20 has no such option and keeps a process
// per file, where forced exit reports every test.
const [major, minor] = process.versions.node.split('.').map(Number);
const inProcess = major > 22 || (major === 22 && minor >= 8);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-force-exit',
    ...(inProcess ? ['--test-isolation=none'] : ['--test-concurrency=2']),
    '--test-timeout=180000',
    ...selected,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
