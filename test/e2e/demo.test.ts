/**
 * `pnpm demo` as a user runs it: the failover story end to end (two requests per phase),
 * and, when one of its ports is taken, a clear refusal instead of talking to whatever
 * answers there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../support/meridian-process.ts';

const DEMO = path.join(REPO_ROOT, 'scripts/demo.ts');

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', DEMO, '--rounds', '2'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// One at a time: the demo uses the example's fixed ports.
describe('pnpm demo', { concurrency: 1 }, () => {
  it('refuses to start when a port it needs is taken, naming it', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve, reject) => taken.once('error', reject).listen(15014, '127.0.0.1', resolve));
    try {
      const run = await runDemo();
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^demo failed: 127\.0\.0\.1:15014 \(listen\.http\) is in use by another process/m);
      assert.doesNotMatch(run.stdout, /Meridian is up/);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('tells the failover story and exits 0', async () => {
    const run = await runDemo();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /1\. Meridian is up/);
    assert.match(run.stdout, /^Done\./m);
  });
});
