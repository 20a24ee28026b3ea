/**
 * A cluster Meridian cannot watch says why in words a person can act on, in /debug/clusterz
 * in `meridian status` and in the log, without a stack trace: an API server that is not there names its address
 * and the cause behind client-node's "fetch failed"; one that refuses names the user, the verb
 * and the resource (the API server's own 403 message).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { KubeApiServer } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

interface ClusterStatus {
  id: string;
  source: { informers?: Array<{ name: string; lastError: string | null }> };
}

const READER = 'system:serviceaccount:meridian-system:narrow';

describe('clusters that cannot be watched', () => {
  const ws = new Workspace();
  let narrow: KubeApiServer | undefined;
  let goneUrl = '';
  let meridian: MeridianProcess | undefined;

  before(async () => {
    // A server that was there and is gone: its port is closed.
    const gone = await KubeApiServer.start();
    ws.write('gone.kubeconfig', gone.kubeconfigYaml());
    goneUrl = gone.url;
    await gone.close();
    // A server that knows the token but grants it nothing Meridian needs.
    narrow = await KubeApiServer.start({ tokens: { narrow: { username: READER } }, authorization: [] });
    ws.write('narrow.kubeconfig', narrow.kubeconfigYaml({ token: 'narrow' }));
    mkdirSync(ws.path('local'));
    const config = ws.writeConfig({
      // The CA stays in files: a primary from manifests.
      clusters: [
        { id: 'local', manifests: './local', primary: true },
        { id: 'gone', kubeconfig: './gone.kubeconfig' },
        { id: 'narrow', kubeconfig: './narrow.kubeconfig' },
      ],
      discovery: { readinessTimeoutMs: 1000, backoff: { initialMs: 200, maxMs: 1000 } },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });
  const running = () => {
    assert.ok(meridian, 'meridian started');
    return meridian;
  };

  after(async () => {
    await meridian?.stop();
    await narrow?.close();
    ws.remove();
  });

  const errorsOf = async (id: string) => {
    const { body } = await running().getJson<{ clusters: ClusterStatus[] }>('/debug/clusterz');
    const cluster = body.clusters.find((c) => c.id === id);
    const errors = (cluster?.source.informers ?? []).map((i) => i.lastError).filter((e): e is string => e !== null);
    return errors.length > 0 ? errors : undefined;
  };

  it('an unreachable API server: its address and the connection error', async () => {
    const errors = await eventually('the gone cluster reports an error', () => errorsOf('gone'));
    const port = new URL(goneUrl).port;
    for (const e of errors) assert.match(e, new RegExp(`^${goneUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/?: fetch failed \\(.*ECONNREFUSED 127\\.0\\.0\\.1:${port}`), e);
  });

  it('a 403: the user, the verb and the resource refused', async () => {
    const errors = await eventually('the narrow cluster reports an error', () => errorsOf('narrow'));
    assert.ok(errors.some((e) => /^HTTP 403: services is forbidden: User "system:serviceaccount:meridian-system:narrow" cannot list resource "services"/.test(e)), errors.join('\n'));
  });

  it("meridian status shows each in its cluster's LAST ERROR", async () => {
    const run = await MeridianProcess.run(['status', '--server', running().httpAddress]);
    assert.equal(run.code, 0, run.stderr);
    const row = (id: string) => run.stdout.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';
    assert.match(row('gone'), /: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
    assert.match(row('narrow'), /HTTP 403: \S+ is forbidden: User "system:serviceaccount:meridian-system:narrow" cannot list resource/);
  });

  it('the log says the same, with no stack trace', async () => {
    await running().waitForLog((l) => l.msg === 'watch failed; restarting' && l['cluster'] === 'narrow' && /cannot list resource/.test(String(l['error'])));
    await running().waitForLog((l) => l.msg === 'watch failed; restarting' && l['cluster'] === 'gone' && /ECONNREFUSED/.test(String(l['error'])));
    const text = JSON.stringify(running().logs) + running().stderr.join('');
    assert.doesNotMatch(text, /\n\s+at |\\n\s+at /, 'no stack frames');
  });
});
