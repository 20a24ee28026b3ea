/**
 * Locality failover and outlier ejection through real Envoy sidecars: the client in east is
 * served by the echo pod in its own locality; when that pod is marked not ready its requests
 * go to west, and come back when it is ready again; when it starts answering 503, Envoy's
 * outlier detection ejects it and west takes over.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { ECHO_APP_PORTS, ECHO_PORTS, serviceManifests } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO_VIP = '10.96.0.20';
const ECHO_HOST = 'echo.demo.svc.cluster.local';
const HTTP = ECHO_PORTS.http;
const CLUSTER = `outbound|${HTTP.port}||${ECHO_HOST}`;
/** What the README promises for a change to reach clients is about a second; the machine is shared. */
const FAILOVER_LIMIT_MS = 5000;

describe('Envoy locality failover and outlier detection', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let eastEcho: Workload;
  const pods: Record<string, Pod> = {};

  function writeEcho(cluster: 'east' | 'west', ready: boolean): void {
    const pod = pods[`echo-${cluster}-0`];
    assert.ok(pod);
    writeFileSync(
      mesh.ws.path(cluster, 'echo.yaml'),
      serviceManifests({
        name: 'echo', namespace: 'demo', vip: ECHO_VIP, ports: Object.values(ECHO_PORTS), cluster,
        pods: [{ name: pod.name, address: pod.address, serviceAccount: 'echo', ready }],
      }),
    );
  }

  /** Which pod answers; a non-200 answer counts as its status. */
  async function who(): Promise<string> {
    const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 3000 });
    return a.status === 200 ? (JSON.parse(a.body) as Received).pod : `HTTP ${a.status}`;
  }

  /** Polls until `want` answers `times` requests in a row; returns how long that took to begin. */
  async function until(want: string, times = 5): Promise<number> {
    const start = Date.now();
    let firstOk = 0;
    let streak = 0;
    await eventually(`${times} answers in a row from ${want}`, async () => {
      const got = await who();
      if (got !== want) streak = 0;
      else if (streak++ === 0) firstOk = Date.now();
      return streak >= times ? true : undefined;
    }, 20_000, 50);
    return firstOk - start;
  }

  before(async () => {
    mesh = new EnvoyMesh();
    for (const name of ['sleep-east-0', 'echo-east-0', 'echo-west-0']) pods[name] = mesh.bed.addPod(name);
    for (const [cluster, region] of [['east', 'us-east'], ['west', 'us-west']] as const) {
      mkdirSync(mesh.ws.path(cluster));
      writeFileSync(mesh.ws.path(cluster, 'nodes.yaml'), yamlDocs(node(`${cluster}-node`, region, `${region}-1a`)));
      writeEcho(cluster, true);
    }
    await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
    const at = (name: string) => {
      const pod = pods[name];
      assert.ok(pod);
      return pod;
    };
    [client, eastEcho] = await Promise.all([
      mesh.sidecar(at('sleep-east-0'), { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} }),
      mesh.sidecar(at('echo-east-0'), { cluster: 'east', namespace: 'demo', serviceAccount: 'echo', locality: 'us-east/us-east-1a', ports: ECHO_APP_PORTS }),
      mesh.sidecar(at('echo-west-0'), { cluster: 'west', namespace: 'demo', serviceAccount: 'echo', locality: 'us-west/us-west-1a', ports: ECHO_APP_PORTS }),
    ]);
  });

  after(() => mesh.closeChecked());

  it('the local endpoint serves while ready; not ready → west within the limit; ready again → back to east', async () => {
    await until('echo-east-0', 10);
    writeEcho('east', false);
    const failoverMs = await until('echo-west-0', 10);
    assert.ok(failoverMs < FAILOVER_LIMIT_MS, `failover took ${failoverMs} ms`);
    writeEcho('east', true);
    const backMs = await until('echo-east-0', 10);
    assert.ok(backMs < FAILOVER_LIMIT_MS, `return took ${backMs} ms`);
    console.log(`# envoy failover: to west ${failoverMs} ms, back to east ${backMs} ms`);
  });

  it('a local endpoint that starts failing is ejected by outlier detection and west takes over', async () => {
    await until('echo-east-0', 3);
    await eastEcho.app.setStatus(503);
    const seen: string[] = [];
    await eventually('west answering after the ejection', async () => {
      const got = await who();
      seen.push(got);
      return got === 'echo-west-0' ? true : undefined;
    }, 20_000, 50);
    // Five consecutive 5xx eject (the outlier detection Meridian configures); none reach west before that.
    assert.deepEqual(seen.slice(0, 5), Array(5).fill('HTTP 503'), seen.join(', '));
    await until('echo-west-0', 10);
    const stats = await client.envoy.stats(`cluster.${CLUSTER}.outlier_detection`);
    assert.equal(stats.get(`cluster.${CLUSTER}.outlier_detection.ejections_active`), 1);
    assert.ok((stats.get(`cluster.${CLUSTER}.outlier_detection.ejections_enforced_consecutive_5xx`) ?? 0) >= 1);
    await eastEcho.app.setStatus(200);
  });
});
