/**
 * Two networks joined only by a real Envoy east-west gateway. The test bed's networks are
 * separate bridges: pods of one have no route to the other's. The west gateway is a `router`
 * Envoy configured by Meridian (SNI passthrough on 15443), with a leg on the east network where
 * east's pods reach it, as a load balancer's address.
 *
 * The east client's echo endpoints, in its preference order: echo-east-0 (its own zone),
 * echo-west-0 (same region, other network: through the west gateway), echo-east-1 (another
 * region, its own network). The local one goes → traffic crosses through the gateway, mTLS end
 * to end, and the gateway's stats count every connection. The west network goes (its gateway
 * with it) → the client's Envoy ejects the gateway and its own network's remaining endpoint
 * takes over. Withdrawn by Meridian instead (the gateway's Service removed), the gateway's
 * endpoints leave the client's EDS and not one request fails. A DestinationRule subset only
 * west has (v2) is reached through the gateway, which forwards to that subset's pod only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, xfcc, type MeshProxy, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { ECHO_APP_PORTS, ECHO_PORTS, eastWestGatewayService, serviceManifests, type PodSpec } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO_VIP = '10.96.0.20';
const ECHO_HOST = 'echo.demo.svc.cluster.local';
const HTTP = ECHO_PORTS.http;
const TCP = ECHO_PORTS.tcp;
/** The test bed's default network is east's; Meridian listens on its host address. */
const EAST = 'default';
const WEST = 'west';
/** Where east's gateway would be; nothing in this test calls it. */
const EAST_GATEWAY_ADDRESS = '10.99.0.1';
const GATEWAY_LISTENER = 'listener.0.0.0.0_15443.downstream_cx_total';
const gatewayCluster = (port: number) => `cluster.outbound_.${port}_._.${ECHO_HOST}.upstream_cx_total`;

describe('Envoy multi-network through a real east-west gateway', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let gateway: MeshProxy;
  const pods: Record<string, Pod> = {};
  const at = (name: string): Pod => {
    const pod = pods[name];
    assert.ok(pod, name);
    return pod;
  };

  function writeEast(echoEast0Ready: boolean): void {
    const echo = (name: string, nodeName: string, ready = true): PodSpec => ({ name, address: at(name).address, serviceAccount: 'echo', node: nodeName, ready });
    writeFileSync(
      mesh.ws.path('east', 'echo.yaml'),
      serviceManifests({
        name: 'echo', namespace: 'demo', vip: ECHO_VIP, ports: [HTTP, TCP], cluster: 'east',
        pods: [echo('echo-east-0', 'east-a', echoEast0Ready), echo('echo-east-1', 'east-c')],
      }),
    );
  }

  /**
   * West's echo pods (v1, and v2 only while `v2Ready`), and its east-west gateway's Service
   * unless `withGateway` is false.
   */
  function writeWest(withGateway: boolean, v2Ready = false): void {
    writeFileSync(
      mesh.ws.path('west', 'echo.yaml'),
      [
        yamlDocs(node('west-node', 'us-east', 'us-east-1b')),
        serviceManifests({
          name: 'echo', namespace: 'demo', vip: ECHO_VIP, ports: [HTTP, TCP], cluster: 'west',
          pods: [
            { name: 'echo-west-0', address: at('echo-west-0').address, serviceAccount: 'echo', labels: { version: 'v1' } },
            { name: 'echo-west-1', address: at('echo-west-1').address, serviceAccount: 'echo', labels: { version: 'v2' }, ready: v2Ready },
          ],
        }),
        ...(withGateway ? [eastWestGatewayService('net-west', at('gw-west').addressOn(EAST))] : []),
      ].join('---\n'),
    );
  }

  /** Which pod answers an HTTP request; anything else is described. */
  async function who(headers?: Record<string, string>): Promise<string> {
    const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 3000, ...(headers ? { headers } : {}) });
    return a.status === 200 ? (JSON.parse(a.body) as Received).pod : `HTTP ${a.status}`;
  }

  async function until(want: string, times: number, seen: string[] = []): Promise<void> {
    let streak = 0;
    await eventually(`${times} answers in a row from ${want}`, async () => {
      const got = await who().catch((err: unknown) => String(err));
      seen.push(got);
      streak = got === want ? streak + 1 : 0;
      return streak >= times ? true : undefined;
    }, 30_000, 50);
  }

  async function gatewayStat(name: string): Promise<number> {
    return (await gateway.envoy.stats(name)).get(name) ?? 0;
  }

  before(async () => {
    mesh = new EnvoyMesh();
    mesh.bed.addNetwork(WEST);
    for (const name of ['sleep-east-0', 'echo-east-0', 'echo-east-1']) pods[name] = mesh.bed.addPod(name);
    pods['echo-west-0'] = mesh.bed.addPod('echo-west-0', { network: WEST, reach: [EAST] });
    pods['echo-west-1'] = mesh.bed.addPod('echo-west-1', { network: WEST, reach: [EAST] });
    // The gateway's address on east is where east's pods reach the west network.
    pods['gw-west'] = mesh.bed.addPod('gw-west', { network: WEST, reach: [EAST], alsoOn: [EAST] });
    mkdirSync(mesh.ws.path('east'));
    mkdirSync(mesh.ws.path('west'));
    writeFileSync(mesh.ws.path('east', 'nodes.yaml'), yamlDocs(node('east-a', 'us-east', 'us-east-1a'), node('east-c', 'us-central', 'us-central-1a')));
    writeEast(true);
    writeWest(true);
    // Requests with `x-version: v2` go to subset v2, which only west has (the other rules: as without a route).
    writeFileSync(
      mesh.ws.path('east', 'policy.yaml'),
      yamlDocs(
        { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'echo', namespace: 'demo' }, spec: { host: ECHO_HOST, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'echo', namespace: 'demo' },
          spec: { hosts: [ECHO_HOST], http: [{ match: [{ headers: { 'x-version': { exact: 'v2' } } }], route: [{ destination: { host: ECHO_HOST, subset: 'v2' } }] }, { route: [{ destination: { host: ECHO_HOST } }] }] },
        },
      ),
    );
    await mesh.startMeridian({
      mtls: { mode: 'strict' },
      clusters: [
        { id: 'east', network: 'net-east', manifests: './east' },
        { id: 'west', network: 'net-west', manifests: './west' },
      ],
      // East's own gateway (no west pod calls through it here). With a gateway somewhere the
      // mesh stays multi-network when west's is withdrawn; with none at all Meridian, like
      // Istio, takes the mesh as flat and would send west's pod addresses, unreachable here.
      networks: { 'net-east': { gateways: [{ address: EAST_GATEWAY_ADDRESS, port: 15443 }] } },
    });
    const east = { cluster: 'east', network: 'net-east', namespace: 'demo' };
    const west = { cluster: 'west', network: 'net-west', namespace: 'demo' };
    [client, gateway] = await Promise.all([
      mesh.sidecar(at('sleep-east-0'), { ...east, serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} }),
      mesh.eastWestGateway(at('gw-west'), { cluster: 'west', network: 'net-west', locality: 'us-east/us-east-1b' }),
      mesh.sidecar(at('echo-east-0'), { ...east, serviceAccount: 'echo', locality: 'us-east/us-east-1a', ports: ECHO_APP_PORTS }),
      mesh.sidecar(at('echo-east-1'), { ...east, serviceAccount: 'echo', locality: 'us-central/us-central-1a', ports: ECHO_APP_PORTS }),
      mesh.sidecar(at('echo-west-0'), { ...west, serviceAccount: 'echo', locality: 'us-east/us-east-1b', ports: ECHO_APP_PORTS }),
      mesh.sidecar(at('echo-west-1'), { ...west, serviceAccount: 'echo', locality: 'us-east/us-east-1b', ports: ECHO_APP_PORTS }),
    ]);
  });

  after(() => mesh.closeChecked());

  it('no route joins the networks: an east pod cannot reach a west pod directly', () => {
    const west = at('echo-west-0').address;
    assert.throws(() => at('sleep-east-0').exec('ip', ['route', 'get', west]), /unreachable/i);
    assert.throws(() => at('echo-west-0').exec('ip', ['route', 'get', at('echo-east-0').address]), /unreachable/i);
  });

  it('the local endpoint serves while it is ready, and nothing crosses the gateway', async () => {
    await until('echo-east-0', 10);
    assert.equal(await gatewayStat(GATEWAY_LISTENER), 0);
  });

  it('the local endpoint goes → traffic crosses through the gateway, mTLS end to end, each connection counted there', async () => {
    writeEast(false);
    await until('echo-west-0', 5);
    const answer = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}` });
    const got = JSON.parse(answer.body) as Received;
    assert.equal(got.pod, 'echo-west-0');
    // The gateway passed the client sidecar's TLS through: the server's sidecar saw the client's SVID.
    assert.equal(xfcc(got).get('URI'), client.spiffeId);

    const listenerBefore = await gatewayStat(GATEWAY_LISTENER);
    const tcpBefore = await gatewayStat(gatewayCluster(TCP.port));
    const n = 6;
    for (let i = 0; i < n; i++) {
      // Each a new connection from the client's sidecar, through the gateway, to west's.
      assert.equal(await client.app.tcp({ host: ECHO_VIP, port: TCP.port, data: `x${i}`, timeoutMs: 3000 }), `echo-west-0 x${i}`);
    }
    await eventually('the gateway counting every TCP connection', async () =>
      (await gatewayStat(gatewayCluster(TCP.port))) === tcpBefore + n ? true : undefined,
    );
    assert.equal(await gatewayStat(GATEWAY_LISTENER), listenerBefore + n);
  });

  it('a subset across networks: the SNI names it and the gateway forwards to its endpoints only', async () => {
    writeWest(true, true);
    await eventually('v2 answering through the gateway', async () => ((await who({ 'x-version': 'v2' })) === 'echo-west-1' ? true : undefined), 20_000, 100);
    // Without the subset in the SNI the gateway would spread these over both west pods.
    for (let i = 0; i < 20; i++) assert.equal(await who({ 'x-version': 'v2' }), 'echo-west-1');
    const subsetCluster = `cluster.outbound_.${HTTP.port}_.v2_.${ECHO_HOST}.upstream_cx_total`;
    assert.ok((await gatewayStat(subsetCluster)) >= 1, 'through the gateway\'s subset cluster');
    writeWest(true, false);
    await until('echo-west-0', 10);
  });

  it('the gateway is withdrawn (its Service gone) → Meridian stops sending it and east-1 takes over with no failed request; back → through it again', async () => {
    const seen: string[] = [];
    writeWest(false);
    await until('echo-east-1', 10, seen);
    assert.deepEqual(seen.filter((s) => s !== 'echo-west-0' && s !== 'echo-east-1'), [], seen.join(', '));
    writeWest(true);
    await until('echo-west-0', 5);
  });

  it('the west network goes (its gateway with it) → the client ejects the gateway and east-1 takes over', async () => {
    await gateway.envoy.stop();
    execFileSync('ip', ['link', 'set', mesh.bed.network(WEST).bridge, 'down']);
    const seen: string[] = [];
    const started = Date.now();
    await until('echo-east-1', 10, seen);
    const firstEast1 = seen.indexOf('echo-east-1');
    const failed = seen.slice(0, firstEast1).filter((s) => s !== 'echo-west-0');
    // Meridian cannot know (west's last endpoints stay, as for any unreachable cluster): the
    // client's own outlier detection must take the gateway out. It does after 5 failures in a
    // row on a fresh run; after the withdraw-and-return above it has taken ~23 (about 1.2 s),
    // not explained yet, so the bound is on time, not on the count.
    console.log(`# multi-network: after the west gateway went, ${failed.length} failed requests before echo-east-1 took over (${Date.now() - started} ms to 10 in a row)`);
    assert.ok(failed.every((f) => f.startsWith('HTTP 503')), seen.join(', '));
    const cluster = `cluster.outbound|${HTTP.port}||${ECHO_HOST}.outlier_detection.ejections_active`;
    assert.equal((await client.envoy.stats(cluster)).get(cluster), 1);
  });
});
