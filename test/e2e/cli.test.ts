import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

describe('meridian CLI', () => {
  it('serve refuses an invalid config, naming every bad field, and exits 1', async () => {
    const ws = new Workspace();
    try {
      const file = ws.write(
        'bad.yaml',
        'listen:\n  xds: nowhere\ndebounce:\n  quietMs: -5\nclusters:\n  - id: a\n    manifests: ./missing\n  - id: a\n    manifests: ./missing\n',
      );
      const out = await MeridianProcess.run(['serve', '--config', file]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /listen\.xds: expected host:port/);
      assert.match(out.stderr, /debounce\.quietMs/);
      assert.doesNotMatch(out.stderr, /at .*\.ts:\d+/, 'no stack trace for a user error');
    } finally {
      ws.remove();
    }
  });

  it('serve refuses a kubeconfig with no current context, naming the file, and exits 1', async () => {
    const ws = new Workspace();
    try {
      const kubeconfig = ws.write(
        'nocontext.kubeconfig',
        'apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: { server: "https://127.0.0.1:1" }\nusers:\n- name: u\n  user: { token: x }\ncontexts:\n- name: ctx\n  context: { cluster: a, user: u }\n',
      );
      const out = await MeridianProcess.run(['serve', '--config', ws.writeConfig({ clusters: [{ id: 'k1', kubeconfig }] })]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /nocontext\.kubeconfig has no current cluster/);
    } finally {
      ws.remove();
    }
  });

  it('serve reports each cluster problem by path', async () => {
    const ws = new Workspace();
    try {
      const file = ws.write('bad.yaml', 'clusters:\n  - id: a\n    manifests: ./missing\n  - id: a\n    manifests: .\n');
      const out = await MeridianProcess.run(['serve', '--config', file]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /clusters\[0\]\.manifests: not a directory/);
      assert.match(out.stderr, /clusters\[1\]\.id: duplicate cluster id "a"/);
    } finally {
      ws.remove();
    }
  });

  it('usage errors exit 2 with the usage text', async () => {
    const unknown = await MeridianProcess.run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command: frobnicate/);
    const missing = await MeridianProcess.run(['bootstrap']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--node-id is required/);
  });
});
