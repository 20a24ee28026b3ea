/**
 * Meridian restarted under running Envoys: requests between two sidecars keep flowing while
 * Meridian is down and while it comes back (each Envoy serves its last configuration), both
 * Envoys reconnect to the new process and end up on the same versions of every resource they
 * held before, as Meridian's /debug/syncz and each Envoy's config_dump show. Meridian stays
 * away for 10 s, and the sidecars are back within the reconnect backoff cap of their bootstrap.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { trafficLoop } from '../support/traffic-loop.ts';
import { ECHO_HOST, ECHO_VIP, startEastToWest } from './east-to-west.ts';
import { ECHO_PORTS } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const HTTP = ECHO_PORTS.http;
const TCP = ECHO_PORTS.tcp;
/**
 * Meridian stays away this long: long enough that Envoy's default reconnect backoff (0.5 s
 * doubling to 30 s, full jitter) would be waiting up to 15–30 s by the time it is back.
 */
const DOWN_MS = 10_000;
/** The bootstrap caps the backoff at 5 s; the rest is slack for a shared machine. */
const RECONNECT_LIMIT_MS = 12_000;

interface SynczProxy {
  connection: string;
  node: string;
  types: Record<string, { acked: { version: string | null }; synced: boolean }>;
}

describe('Meridian restarted while Envoys run', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let server: Workload;

  before(async () => {
    mesh = new EnvoyMesh();
    ({ client, server } = await startEastToWest(mesh, { ports: [HTTP, TCP] }));
  });

  after(() => mesh.closeChecked());

  /** Per sidecar node id, the version each type was acknowledged at, once every type of both is synced. */
  async function syncedVersions(timeoutMs: number): Promise<Map<string, Record<string, string>>> {
    const nodes = [client, server].map((w) => w.envoy.pod.address);
    return eventually('both sidecars connected and synced in /debug/syncz', async () => {
      const meridian = mesh.meridian;
      if (!meridian) return undefined;
      const { body } = await meridian.getJson<{ proxies: SynczProxy[] }>('/debug/syncz');
      const byNode = new Map<string, Record<string, string>>();
      for (const address of nodes) {
        const proxy = body.proxies.find((p) => p.node.includes(`~${address}~`));
        const types = Object.entries(proxy?.types ?? {});
        // A sidecar asks for all five; each must be acknowledged at what was last sent.
        if (types.length < 5 || !types.every(([, t]) => t.synced && t.acked.version !== null)) return undefined;
        byNode.set(address, Object.fromEntries(types.map(([type, t]) => [type, t.acked.version ?? ''])));
      }
      return byNode;
    }, timeoutMs, 100);
  }

  it('traffic keeps flowing through the restart and both Envoys come back to the same versions', async () => {
    await eventually('traffic flowing', async () => {
      const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 2000 });
      return a.status === 200 ? true : undefined;
    });
    const sidecars = [client, server];
    const pids = sidecars.map((w) => w.envoy.process.pid);
    const syncBefore = await syncedVersions(15_000);
    const envoyBefore = await Promise.all(sidecars.map((w) => w.envoy.configVersions()));
    const connectionsBefore = await Promise.all(sidecars.map((w) => xdsConnections(w)));

    const traffic = trafficLoop(async (i) => {
      if (i % 2 === 0) {
        const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 3000 });
        return a.status === 200 && (JSON.parse(a.body) as Received).pod === 'echo-west-0' ? undefined : `HTTP ${a.status} ${a.body.slice(0, 200)}`;
      }
      // A new connection each time: a new mTLS handshake with what the sidecars hold.
      const line = await client.app.tcp({ host: ECHO_VIP, port: TCP.port, data: `n${i}`, timeoutMs: 3000 });
      return line === `echo-west-0 n${i}` ? undefined : `TCP answered ${JSON.stringify(line)}`;
    });
    try {
      const stoppedAt = Date.now();
      await mesh.restartMeridian({ downMs: DOWN_MS });
      const okWhileDown = traffic.ok();
      const restartedAt = Date.now();
      // Within the limit, or this throws: the sidecars did not come back in time.
      const syncAfter = await syncedVersions(RECONNECT_LIMIT_MS);
      const reconnectMs = Date.now() - restartedAt;
      console.log(`# meridian restart: down ${restartedAt - stoppedAt} ms (${okWhileDown} requests served meanwhile), both sidecars synced ${reconnectMs} ms after it was back`);
      // The new process serves what the old one did: every type at the version acknowledged before.
      assert.deepEqual(withoutSvid(syncAfter), withoutSvid(syncBefore));
      const settled = traffic.ok();
      await eventually('requests after the reconnect', () => (traffic.ok() >= settled + 10 ? true : undefined));
    } finally {
      const { ok, failures } = await traffic.stop();
      console.log(`# meridian restart: ${ok} requests, ${failures.length} failed`);
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} requests failed`);
    }
    const envoyAfter = await Promise.all(sidecars.map((w) => w.envoy.configVersions()));
    for (const [i, w] of sidecars.entries()) {
      assert.deepEqual(withoutSvid(envoyAfter[i] ?? {}), withoutSvid(envoyBefore[i] ?? {}), `versions in ${w.pod.name}'s config_dump`);
      assert.ok(Object.keys(envoyAfter[i] ?? {}).some((k) => k.startsWith('eds:')), `config_dump lists EDS: ${JSON.stringify(envoyAfter[i])}`);
      // It did reconnect (a new xDS connection), rather than never having lost the old one.
      assert.ok((await xdsConnections(w)) > (connectionsBefore[i] ?? 0), `${w.pod.name} opened a new xDS connection`);
      assert.equal((await w.envoy.stats('control_plane.connected_state')).get('control_plane.connected_state'), 1);
    }
    assert.deepEqual(sidecars.map((w) => w.envoy.process.pid), pids, 'no Envoy restarted');
  });
});

/** Connections the sidecar has opened to Meridian so far. */
async function xdsConnections(w: Workload): Promise<number> {
  return (await w.envoy.stats('cluster.xds-grpc.upstream_cx_total')).get('cluster.xds-grpc.upstream_cx_total') ?? 0;
}

/**
 * Versions without the workload certificate: a new process issues each connection a new SVID
 * (the roots, ROOTCA, stay the same).
 */
function withoutSvid<T>(versions: Record<string, T> | Map<string, Record<string, T>>): unknown {
  if (versions instanceof Map) return new Map([...versions].map(([k, v]) => [k, withoutSvid(v)]));
  return Object.fromEntries(Object.entries(versions).filter(([k]) => k !== 'sds:default' && k !== 'SDS'));
}
