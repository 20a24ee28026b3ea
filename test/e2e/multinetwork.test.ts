/**
 * Multi-network: endpoints on another network are reached through that network's east-west
 * gateway, weighted by how many endpoints stand behind it. The "gateway" here is a TCP
 * forwarder on its own loopback address, so a real gRPC client really crosses it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, TypeUrls, startEchoBackend, xdsEchoClient, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const ECHO_CLUSTER = 'outbound|7070||echo.demo.svc.cluster.local';
const WEST_GATEWAY = '127.0.0.29';
const EAST_GATEWAY = '127.0.0.19';

type Cla = { endpoints?: Array<{ priority?: number; lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } }; load_balancing_weight: { value: number } }> }> };

/** address:port → weight, from the first EDS response. */
function lbEndpoints(cla: Cla): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of cla.endpoints ?? []) {
    for (const e of l.lb_endpoints) out[`${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`] = e.load_balancing_weight.value;
  }
  return out;
}

describe('multi-network gateways', () => {
  const ws = new Workspace();
  const backends: EchoBackend[] = [];
  const clients: EchoClient[] = [];
  const ads: AdsTestClient[] = [];
  let forwarder: net.Server;
  let meridian: MeridianProcess;
  let port = 0;
  let gatewayPort = 0;

  function writeEast(ready: boolean): void {
    writeFileSync(
      ws.path('east', 'echo.yaml'),
      yamlDocs(
        node('east-n1', 'us-east'),
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        endpointSlice('echo-east', 'demo', 'echo', { name: 'grpc', port }, [{ address: '127.0.0.11', ready, node: 'east-n1' }]),
      ),
    );
  }

  before(async () => {
    const east = await startEchoBackend({ host: '127.0.0.11', port: 0, cluster: 'east', name: 'east' });
    port = Number(east.address.split(':')[1]);
    backends.push(east, await startEchoBackend({ host: '127.0.0.21', port, cluster: 'west', name: 'west' }));
    // The west gateway: anything arriving is forwarded to the west backend (SNI routing is
    // the gateway's job; one service is enough to prove the path).
    forwarder = net.createServer((socket) => {
      const upstream = net.connect(port, '127.0.0.21');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => forwarder.listen(0, WEST_GATEWAY, resolve));
    gatewayPort = (forwarder.address() as net.AddressInfo).port;

    mkdirSync(ws.path('east'));
    mkdirSync(ws.path('west'));
    mkdirSync(ws.path('north'));
    writeEast(true);
    const westEndpoints = ['127.0.0.21', '127.0.0.22', '127.0.0.23'].map((address) => ({ address, node: 'west-n1' }));
    writeFileSync(
      ws.path('west', 'echo.yaml'),
      yamlDocs(
        node('west-n1', 'us-west'),
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        endpointSlice('echo-west', 'demo', 'echo', { name: 'grpc', port }, westEndpoints),
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'eastwestgateway', namespace: 'istio-system', labels: { 'topology.istio.io/network': 'net-west' } },
          spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: gatewayPort }] },
          status: { loadBalancer: { ingress: [{ ip: WEST_GATEWAY }] } },
        },
      ),
    );
    // north is on a network with no gateway: nobody elsewhere can reach it.
    writeFileSync(
      ws.path('north', 'echo.yaml'),
      yamlDocs(service('echo', 'demo', [{ name: 'grpc', port: 7070 }]), endpointSlice('echo-north', 'demo', 'echo', { name: 'grpc', port }, [{ address: '127.0.0.41' }])),
    );
    const config = ws.writeConfig({
      clusters: [
        { id: 'east', network: 'net-east', manifests: './east' },
        { id: 'west', network: 'net-west', manifests: './west' },
        { id: 'north', network: 'net-north', manifests: './north' },
      ],
      networks: { 'net-east': { gateways: [{ address: EAST_GATEWAY, port: 15443 }] } },
      debounce: { quietMs: 20, maxMs: 200 },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const c of ads) c.close();
    await meridian.stop();
    forwarder.close();
    await Promise.all(backends.map((b) => b.close()));
    ws.remove();
  });

  const edsFor = async (id: string, cluster: string, network: string) => {
    const c = AdsTestClient.connect(meridian.xdsAddress, { id, locality: { region: 'us-east' }, metadata: { CLUSTER_ID: cluster, NETWORK: network } });
    ads.push(c);
    return (await c.requestAck(TypeUrls.Endpoint, [ECHO_CLUSTER])).resources[0] as Cla;
  };

  it('replaces other networks endpoints by their gateway, weighted by the endpoints behind it', async () => {
    const fromEast = lbEndpoints(await edsFor('east-proxy', 'east', 'net-east'));
    assert.deepEqual(fromEast, { [`127.0.0.11:${port}`]: 1, [`${WEST_GATEWAY}:${gatewayPort}`]: 3 }, 'north has no gateway: not reachable');
  });

  it('uses configured gateways too, and sends a network its own endpoints directly', async () => {
    const fromWest = lbEndpoints(await edsFor('west-proxy', 'west', 'net-west'));
    assert.deepEqual(fromWest, {
      [`127.0.0.21:${port}`]: 1,
      [`127.0.0.22:${port}`]: 1,
      [`127.0.0.23:${port}`]: 1,
      [`${EAST_GATEWAY}:15443`]: 1,
    });
  });

  it('explains each choice at /debug/endpointz', async () => {
    const { body } = await meridian.getJson<{ ports: Array<{ endpoints: Array<{ address: string; reason: string; sent: boolean }> }> }>(
      '/debug/endpointz?service=echo.demo.svc.cluster.local&cluster=east&network=net-east&locality=us-east',
    );
    const rows = body.ports[0]?.endpoints ?? [];
    assert.ok(rows.some((r) => r.address === WEST_GATEWAY && /gateway/.test(r.reason)));
    const north = rows.find((r) => r.address === '127.0.0.41');
    assert.equal(north?.sent, false);
    assert.match(north?.reason ?? '', /net-north/);
  });

  it('carries real RPCs through the gateway when the local endpoint fails', async () => {
    const client = xdsEchoClient('xds:///echo.demo.svc.cluster.local:7070', {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id: 'east-grpc', locality: { region: 'us-east' }, metadata: { CLUSTER_ID: 'east', NETWORK: 'net-east' } },
    });
    clients.push(client);
    assert.equal((await client.echo('a')).backend, 'east');
    writeEast(false);
    await eventually('served from west through the gateway', async () => ((await client.echo('b')).backend === 'west' ? true : undefined));
    writeEast(true);
  });

  it('follows a gateway that moves', async () => {
    const c = AdsTestClient.connect(meridian.xdsAddress, { id: 'mover', metadata: { CLUSTER_ID: 'east', NETWORK: 'net-east' } });
    ads.push(c);
    let r = await c.requestAck(TypeUrls.Endpoint, [ECHO_CLUSTER]);
    assert.ok(`${WEST_GATEWAY}:${gatewayPort}` in lbEndpoints(r.resources[0] as Cla));
    writeFileSync(
      ws.path('west', 'gateway.yaml'),
      yamlDocs({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'eastwestgateway', namespace: 'istio-system', labels: { 'topology.istio.io/network': 'net-west' } },
        spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: 15443 }] },
        status: { loadBalancer: { ingress: [{ ip: '127.0.0.28' }] } },
      }),
    );
    // Earlier tests' pushes may still arrive first; wait for the one that moved the gateway.
    const deadline = Date.now() + 10_000;
    let endpoints: string[] = [];
    while (Date.now() < deadline && !endpoints.includes('127.0.0.28:15443')) {
      r = await c.next(10_000);
      c.ack(r, [ECHO_CLUSTER]);
      endpoints = Object.keys(lbEndpoints(r.resources[0] as Cla)).sort();
    }
    assert.deepEqual(endpoints, [`127.0.0.11:${port}`, '127.0.0.28:15443']);
  });
});
