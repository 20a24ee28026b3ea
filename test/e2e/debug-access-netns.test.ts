/**
 * Who may read /debug/* over a real network: the real `meridian serve` listens on the host's
 * address of a test network, and a caller in a network namespace of its own (not localhost)
 * needs the debug token — over plain HTTP and through `meridian status`. Probes stay open.
 * Localhost callers are covered by every other test, which reads /debug from 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, Testbed, type Pod } from '@meridian/testkit';
import { CLI, MeridianProcess, REPO_ROOT, TWO_CLUSTERS, Workspace } from '../support/meridian-process.ts';

const skip = realPeersMissing([RealPeer.Netns]);
const TOKEN = 'token-of-the-debug-secret';

describe('debug access from another host', { skip }, () => {
  let bed: Testbed;
  let caller: Pod;
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let base = '';

  before(async () => {
    bed = Testbed.create();
    caller = bed.addPod('caller');
    ws.copyExample('two-clusters');
    ws.write('debug-token', `${TOKEN}\n`);
    ws.write('wrong-token', 'not-the-token\n');
    const config = ws.writeConfig({
      clusters: TWO_CLUSTERS,
      http: { debugTokenFile: './debug-token' },
      // HTTP on the test network's host address, where the pod reaches it (never on 0.0.0.0).
      listen: { xds: '127.0.0.1:0', xdsTls: '127.0.0.1:0', http: `${bed.network().hostAddress}:0` },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    base = `http://${meridian.httpAddress}`;
  });
  after(async () => {
    await meridian?.stop();
    await bed?.close();
    ws.remove();
  });

  /** Runs node in the caller's namespace; its own process, so Meridian's answer is real traffic. */
  const inPod = (args: string[], env: Record<string, string> = {}) => {
    const out = spawnSync('ip', ['netns', 'exec', caller.netns, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: out.status, stdout: out.stdout, stderr: out.stderr };
  };
  const statusOf = (path: string, token?: string) => {
    const script = `const r = await fetch(${JSON.stringify(base + path)}, { headers: ${JSON.stringify(token ? { authorization: `Bearer ${token}` } : {})} }); console.log(r.status, JSON.stringify(await r.text()));`;
    const out = inPod(['--input-type=module', '-e', script]);
    assert.equal(out.code, 0, out.stderr);
    const [status = '', body = '""'] = out.stdout.trim().split(/ (.*)/s);
    return { status: Number(status), body: JSON.parse(body) as string };
  };

  it('answers the pod only with the right token; probes and metrics without one', () => {
    assert.notEqual(caller.address.split('.')[0], '127');
    const none = statusOf('/debug/registryz');
    assert.equal(none.status, 401);
    assert.match(none.body, /HTTP_ERR_UNAUTHORIZED/);
    assert.equal(statusOf('/debug/registryz', 'not-the-token').status, 401);
    const right = statusOf('/debug/registryz', TOKEN);
    assert.equal(right.status, 200);
    assert.match(right.body, /echo\.demo\.svc\.cluster\.local/);
    assert.equal(statusOf('/', TOKEN).status, 200);
    assert.equal(statusOf('/').status, 401, 'the status page too');
    for (const open of ['/healthz', '/readyz', '/metrics']) assert.equal(statusOf(open).status, 200, open);
  });

  it('lets meridian status in the pod in with --token-file, and says why not without', () => {
    const cli = ['--import', 'tsx', CLI, 'status', '--server', meridian.httpAddress];
    const refused = inPod(cli, { MERIDIAN_DEBUG_TOKEN: '' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HTTP 401: a bearer token is required .*\(give --token-file or set MERIDIAN_DEBUG_TOKEN\)/);
    assert.equal(inPod([...cli, '--token-file', ws.path('wrong-token')]).code, 1);
    const ok = inPod([...cli, '--token-file', ws.path('debug-token')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /CLUSTERS \(2\)/);
    assert.equal(inPod(cli, { MERIDIAN_DEBUG_TOKEN: TOKEN }).code, 0);
  });
});
