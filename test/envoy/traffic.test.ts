/**
 * Real Envoy sidecars, real traffic: an application in cluster east dials the echo Service's
 * ClusterIP; Istio's capture hands the connection to its sidecar, which sends it with mTLS to
 * the sidecar of the echo pod in cluster west, which hands it to the echo application. HTTP/1.1,
 * h2c, gRPC and plain TCP, each checked on what the server application received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RealPeer, realPeersMissing, type Received } from '@meridian/testkit';
import { EnvoyMesh, TRUST_DOMAIN, xfcc, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { ECHO_HOST, ECHO_VIP, startEastToWest } from './east-to-west.ts';
import { ECHO_PORTS } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

/** The echo Service is dual stack; the test bed's pods speak IPv4, but the Host header may name either. */
const ECHO_VIP6 = 'fd00:10:96::20';
const PORTS = ECHO_PORTS;

describe('Envoy sidecars across two clusters, strict mTLS', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let server: Workload;

  before(async () => {
    mesh = new EnvoyMesh();
    ({ client, server } = await startEastToWest(mesh, { ports: Object.values(PORTS), vip6: ECHO_VIP6 }));
  });

  after(() => mesh.closeChecked());

  it('HTTP/1.1 reaches the echo app with the client SVID in x-forwarded-client-cert', async () => {
    const answer = await eventually('HTTP/1.1 through both sidecars', async () => {
      const a = await client.app.http1({ host: ECHO_VIP, port: PORTS.http.port, authority: `${ECHO_HOST}:${PORTS.http.port}`, path: '/hello' });
      return a.status === 200 ? a : undefined;
    });
    const got = JSON.parse(answer.body) as Received;
    assert.equal(got.pod, 'echo-west-0');
    assert.equal(got.protocol, 'http/1.1');
    assert.equal(got.path, '/hello');
    const cert = xfcc(got);
    assert.equal(cert.get('URI'), client.spiffeId);
    assert.equal(cert.get('By'), server.spiffeId);
    assert.equal(client.spiffeId, `spiffe://${TRUST_DOMAIN}/ns/demo/sa/sleep`);
  });

  it('HTTP/1.1 and h2c with a ClusterIP as Host (an app that dialled the address) reach the echo app', async () => {
    for (const authority of [ECHO_VIP, `${ECHO_VIP}:${PORTS.http.port}`, `[${ECHO_VIP6}]`, `[${ECHO_VIP6}]:${PORTS.http.port}`]) {
      const a = await client.app.http1({ host: ECHO_VIP, port: PORTS.http.port, authority, path: '/by-ip' });
      assert.equal(a.status, 200, `Host: ${authority}: ${a.body}`);
      assert.equal((JSON.parse(a.body) as Received).pod, 'echo-west-0', `Host: ${authority}`);
    }
    const h2 = await client.app.h2c({ host: ECHO_VIP, port: PORTS.h2c.port, authority: `${ECHO_VIP}:${PORTS.h2c.port}`, path: '/by-ip' });
    assert.equal(h2.status, 200, h2.body);
    assert.equal((JSON.parse(h2.body) as Received).pod, 'echo-west-0');
  });

  it('h2c (HTTP/2 with prior knowledge) reaches the echo app as HTTP/2, mTLS in between', async () => {
    const answer = await client.app.h2c({ host: ECHO_VIP, port: PORTS.h2c.port, authority: `${ECHO_HOST}:${PORTS.h2c.port}`, path: '/h2' });
    assert.equal(answer.status, 200);
    const got = JSON.parse(answer.body) as Received;
    assert.deepEqual([got.pod, got.protocol, got.path], ['echo-west-0', 'h2', '/h2']);
    assert.equal(xfcc(got).get('URI'), client.spiffeId);
  });

  it('gRPC reaches the echo app with the caller identity', async () => {
    const got = await client.app.grpc({ host: ECHO_VIP, port: PORTS.grpc.port, authority: `${ECHO_HOST}:${PORTS.grpc.port}` });
    assert.deepEqual([got.pod, got.protocol, got.path], ['echo-west-0', 'grpc', '/meridian.testkit.PodApp/Who']);
    assert.equal(xfcc(got).get('URI'), client.spiffeId);
  });

  it('plain TCP to the ClusterIP reaches the echo app, over mTLS between the sidecars', async () => {
    const before = await server.envoy.stats('ssl.handshake');
    assert.equal(await client.app.tcp({ host: ECHO_VIP, port: PORTS.tcp.port, data: 'ping' }), 'echo-west-0 ping');
    const after = await server.envoy.stats('ssl.handshake');
    const handshakes = (s: Map<string, number>) => s.get('listener.0.0.0.0_15006.ssl.handshake') ?? 0;
    assert.ok(handshakes(after) > handshakes(before), 'the inbound sidecar terminated TLS for it');
    const upstream = await client.envoy.stats(`outbound|${PORTS.tcp.port}||${ECHO_HOST}`);
    assert.ok((upstream.get(`cluster.outbound|${PORTS.tcp.port}||${ECHO_HOST}.ssl.handshake`) ?? 0) >= 1, 'the outbound sidecar originated it');
  });
});
