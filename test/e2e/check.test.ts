/**
 * `meridian check` on manifest clusters, tried as a new user would: the shipped example (two
 * networks, no gateway: a flat mesh) passes without warnings; a mesh where one network has an
 * east-west gateway and another has none warns about the one without.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { KubeApiServer, type KubeObjectInput } from '@meridian/testkit';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

describe('meridian check on manifest clusters', () => {
  const ws = new Workspace();
  after(() => ws.remove());

  it('the shipped example: a flat mesh, no false warning', async () => {
    const run = await MeridianProcess.run(['check', '--config', 'examples/two-clusters/meridian.yaml']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /warning/);
    assert.match(run.stdout, /^east\s+config\s+yes\s+.*\s+OK$/m);
  });

  it('a multi-network mesh: the network without a gateway is named', async () => {
    ws.copyExample('two-clusters');
    const config = ws.writeConfig(
      {
        clusters: [{ id: 'east', manifests: './east', network: 'net-east' }, { id: 'west', manifests: './west', network: 'net-west' }],
        networks: { 'net-west': { gateways: [{ address: '192.0.2.10' }] } },
      },
      'multi.yaml',
    );
    const run = await MeridianProcess.run(['check', '--config', config]);
    assert.equal(run.code, 0, 'a warning is not a failure');
    assert.match(run.stdout, /^east: warning: no east-west gateway for network net-east/m);
    assert.doesNotMatch(run.stdout, /^west: warning/m);
  });

  it('--server checks Meridian itself: two replicas agreeing, then one that sees less, and one not running', async () => {
    ws.copyExample('two-clusters');
    const both = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] }, 'both.yaml');
    const eastOnly = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }] }, 'east-only.yaml');
    const [a, b, c] = await Promise.all([both, both, eastOnly].map((config) => MeridianProcess.start(['serve', '--config', config])));
    try {
      const agree = await MeridianProcess.run(['check', '--config', both, '--server', a.httpAddress, '--server', b.httpAddress]);
      assert.equal(agree.code, 0, agree.stdout + agree.stderr);
      assert.match(agree.stdout, /^MERIDIAN\s+REPLICA\s+VERSION\s+READY\s+REGISTRY DIGEST\s+CA NOT AFTER\s+STATUS$/m);
      assert.equal((agree.stdout.match(/^http:\/\/127\.0\.0\.1:\d+\s+\S+\s+\S+\s+yes\s+[0-9a-f]{12}\s+\S+\s+OK$/gm) ?? []).length, 2);
      // Progress while it works: one line per cluster and replica as each finishes.
      assert.match(agree.stderr, /^checked cluster east: OK$/m);
      assert.match(agree.stderr, new RegExp(`^checked meridian http://${a.httpAddress.replaceAll('.', '\\.')}: OK$`, 'm'));

      const disagree = await MeridianProcess.run(['check', '--config', both, '--server', a.httpAddress, '--server', c.httpAddress, '--server', '127.0.0.1:1']);
      assert.equal(disagree.code, 1);
      assert.match(disagree.stdout, /: error: replicas disagree on the registry \(2 digests\)/);
      assert.match(disagree.stdout, /^http:\/\/127\.0\.0\.1:1: error: not reachable: .*\(is it running\? --server takes its HTTP port, 15014\)/m);

      // `status` with a --server per replica: every replica's view side by side, compared.
      const side = await MeridianProcess.run(['status', '--server', a.httpAddress, '--server', b.httpAddress]);
      assert.equal(side.code, 0, side.stdout + side.stderr);
      assert.match(side.stdout, /^REPLICAS \(2\)$/m);
      assert.match(side.stdout, /^REPLICA\s+CLUSTER\s+STATE\s+NETWORK/m);
      assert.equal((side.stdout.match(/^\S+\s+(east|west)\s+Synced\s/gm) ?? []).length, 4, side.stdout);
      const split = await MeridianProcess.run(['status', '--server', a.httpAddress, '--server', c.httpAddress, '-o', 'json']);
      assert.equal(split.code, 1);
      const doc = JSON.parse(split.stdout) as { replicas: Array<{ digest: string }>; clusters: Array<{ replica: string; id: string }>; problems: string[] };
      assert.equal(new Set(doc.replicas.map((r) => r.digest)).size, 2);
      assert.equal(doc.clusters.length, 3, 'east and west from one replica, east from the other');
      assert.match(doc.problems.join('\n'), /replicas disagree on the registry/);
    } finally {
      await Promise.all([a, b, c].map((m) => m.stop()));
    }
  });

  it('status --kubeconfig: every running replica found in the cluster, each read through the API server\'s pod proxy', async () => {
    ws.copyExample('two-clusters');
    // Two replicas on one port at two addresses, as two pods would be.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.2', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const replica = (ip: string) =>
      ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }], listen: { xds: `${ip}:0`, xdsTls: `${ip}:0`, http: `${ip}:${port}` } }, `replica-${ip}.yaml`);
    const replicas = await Promise.all(['127.0.0.2', '127.0.0.3'].map((ip) => MeridianProcess.start(['serve', '--config', replica(ip)])));
    const api = await KubeApiServer.start();
    try {
      const pod = (name: string, ip: string, phase: string) =>
        ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'meridian-system', labels: { 'app.kubernetes.io/name': 'meridian' } }, spec: {}, status: { phase, podIP: ip } }) as KubeObjectInput;
      api.upsert(pod('meridian-0', '127.0.0.2', 'Running'));
      api.upsert(pod('meridian-1', '127.0.0.3', 'Running'));
      api.upsert(pod('meridian-evicted', '127.0.0.4', 'Failed'));
      const kubeconfig = ws.write('status.kubeconfig', api.kubeconfigYaml());
      const run = await MeridianProcess.run(['status', '--kubeconfig', kubeconfig, '--port', String(port), '-o', 'json']);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const doc = JSON.parse(run.stdout) as { replicas: Array<{ server: string; ready: boolean; digest: string }>; clusters: Array<{ replica: string; id: string }> };
      assert.deepEqual(doc.replicas.map((r) => [r.server, r.ready]), [['meridian-system/meridian-0', true], ['meridian-system/meridian-1', true]]);
      assert.equal(new Set(doc.replicas.map((r) => r.digest)).size, 1, 'they agree');
      assert.equal(doc.clusters.length, 4);
      assert.ok(api.requests({ resource: 'pods' }).some((r) => r.subresource === 'proxy' && r.name === 'meridian-0:' + port), 'read through the pod proxy');
      const none = await MeridianProcess.run(['status', '--kubeconfig', kubeconfig, '-n', 'elsewhere']);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no running Meridian pod in namespace elsewhere \(selector app\.kubernetes\.io\/name=meridian\)/);
    } finally {
      await Promise.all(replicas.map((m) => m.stop()));
      await api.close();
    }
  });
});
