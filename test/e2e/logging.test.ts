/**
 * Logs of the real `meridian serve`: JSON lines in a pipe, readable text with `log.format:
 * text`, and the level changed while it runs, by `PUT /debug/loglevel` and by SIGHUP after
 * editing `log.level`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { CLI, MeridianProcess, REPO_ROOT, TWO_CLUSTERS, Workspace } from '../support/meridian-process.ts';

describe('log level at run time', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let config = '';
  let helloPort = 7071;

  before(async () => {
    ws.copyExample('two-clusters');
    config = ws.writeConfig({ clusters: TWO_CLUSTERS, log: { level: 'info' } });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });
  after(async () => {
    await meridian.stop();
    ws.remove();
  });

  const pushes = async () => (await meridian.getJson<{ pushes: number }>('/debug/syncz')).body.pushes;
  /** Changes a manifest and waits until the push it causes has happened. */
  const changeManifest = async (): Promise<number> => {
    const before = await pushes();
    helloPort += 1;
    ws.write('west/hello.yaml', `apiVersion: v1\nkind: Service\nmetadata: {name: hello, namespace: demo}\nspec:\n  ports: [{name: grpc, port: ${helloPort}, targetPort: 17071}]\n`);
    return eventually('a push', async () => ((await pushes()) > before ? pushes() : undefined));
  };
  const setLevel = async (level: string) => {
    const res = await fetch(`http://${meridian.httpAddress}/debug/loglevel?level=${level}`, { method: 'PUT' });
    assert.equal(res.status, 200);
  };

  it('logs debug lines after PUT /debug/loglevel?level=debug, from components made at start', async () => {
    assert.equal(meridian.logs.some((l) => l.msg === 'cluster model changed'), false, 'no debug lines at info');
    await setLevel('debug');
    assert.deepEqual((await meridian.getJson('/debug/loglevel')).body, { level: 'debug' });
    await changeManifest();
    await meridian.waitForLog((l) => l.msg === 'cluster model changed' && l.level === 20);
    await meridian.waitForLog((l) => l.msg === 'log level changed' && l.level === 40 && l['logLevel'] === 'debug');
  });

  it('applies log.level from the config file on SIGHUP, naming keys that would need a restart', async () => {
    await setLevel('warn');
    const quiet = await changeManifest();
    ws.writeConfig({ clusters: TWO_CLUSTERS, log: { level: 'info' }, debounce: { quietMs: 50, maxMs: 500 } });
    meridian.signal('SIGHUP');
    const reloaded = await meridian.waitForLog((l) => l.msg === 'SIGHUP: log level applied from the config');
    assert.deepEqual([reloaded['logLevel'], reloaded['needRestart']], ['info', ['debounce']]);
    // Lines keep their order: the push made at warn would have come before the reload line.
    assert.equal(meridian.logs.some((l) => l.msg === 'push' && l['push'] === quiet), false, 'no info line at warn');
    const loud = await changeManifest();
    await meridian.waitForLog((l) => l.msg === 'push' && l['push'] === loud);
    assert.equal(meridian.logs.some((l) => l.msg === 'cluster model changed' && meridian.logs.indexOf(l) > meridian.logs.indexOf(reloaded)), false, 'no debug lines at info');
  });

  it('keeps the running level when the config no longer validates on SIGHUP', async () => {
    ws.write('meridian.yaml', 'log: {level: loud}\n');
    meridian.signal('SIGHUP');
    await meridian.waitForLog((l) => l.msg === 'SIGHUP: config not re-read; keeping the running log level' && /log\.level/.test(String(l['err'])));
    const after = await changeManifest();
    await meridian.waitForLog((l) => l.msg === 'push' && l['push'] === after);
  });
});

describe('log format', () => {
  it('writes readable text with log.format: text (JSON lines are the default in a pipe)', async () => {
    const ws = new Workspace();
    ws.copyExample('two-clusters');
    const config = ws.writeConfig({ clusters: TWO_CLUSTERS, log: { format: 'text' } });
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', config], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    try {
      await eventually('meridian ready, as text', () => (/INFO: meridian ready/.test(stdout) ? true : undefined), 30_000);
      const first = stdout.split('\n')[0] ?? '';
      assert.match(first, /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN)/);
      assert.throws(() => JSON.parse(first));
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      ws.remove();
    }
  });
});
