/**
 * Start-up loads only what the config needs: a mesh read from manifests never loads the
 * Kubernetes client (about 0.3–0.7 s of every start and every CLI command), a Kubernetes
 * cluster does.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startKubeCluster } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const TRACE = { nodeArgs: ['--import', new URL('../support/trace-modules.mjs', import.meta.url).href] };
const CLIENT_NODE = { MODULE_TRACE: '@kubernetes/client-node' };

async function loadsClientNode(ws: Workspace, config: Record<string, unknown>): Promise<boolean> {
  const meridian = await MeridianProcess.start(['serve', '--config', ws.writeConfig(config)], CLIENT_NODE, TRACE);
  await meridian.stop();
  return meridian.stderr.join('').includes('module-trace ');
}

describe('start-up', () => {
  it('a manifest-only mesh starts without loading the Kubernetes client', async () => {
    const ws = new Workspace();
    try {
      mkdirSync(ws.path('c1'));
      assert.equal(await loadsClientNode(ws, { clusters: [{ id: 'c1', manifests: './c1' }] }), false);
    } finally {
      ws.remove();
    }
  });

  it('a Kubernetes cluster loads it (the trace sees it when it is loaded)', async () => {
    const ws = new Workspace();
    const cluster = await startKubeCluster('k1', 'r1');
    try {
      ws.write('k1.kubeconfig', cluster.api.kubeconfigYaml({ token: cluster.token }));
      assert.equal(await loadsClientNode(ws, { clusters: [{ id: 'k1', kubeconfig: './k1.kubeconfig' }], remoteSecrets: { enabled: false } }), true);
    } finally {
      await cluster.api.close();
      ws.remove();
    }
  });
});
