/**
 * Strict mTLS with real Envoys: a captured pod port takes only mTLS from a mesh certificate,
 * so a plaintext client on the same network is refused; and a client sidecar checks the
 * server's SPIFFE ID against the service's identities, so a pod whose sidecar holds another
 * identity's certificate is refused.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PodApp, RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { ECHO_APP_PORTS, ECHO_PORTS, serviceManifests } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO = { vip: '10.96.0.20', host: 'echo.demo.svc.cluster.local' };
const BILLING = { vip: '10.96.0.30', host: 'billing.demo.svc.cluster.local' };
const HTTP = ECHO_PORTS.http;
const TCP = ECHO_PORTS.tcp;

describe('Envoy sidecars under strict mTLS refuse what they must', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let echo: Workload;
  let plain: PodApp;
  let pods: Record<'sleep' | 'echo' | 'billing' | 'plain', Pod>;

  before(async () => {
    mesh = new EnvoyMesh();
    pods = {
      sleep: mesh.bed.addPod('sleep-east-0'),
      echo: mesh.bed.addPod('echo-west-0'),
      billing: mesh.bed.addPod('billing-west-0'),
      plain: mesh.bed.addPod('plain-0'),
    };
    for (const [cluster, region] of [['east', 'us-east'], ['west', 'us-west']] as const) {
      mkdirSync(mesh.ws.path(cluster));
      writeFileSync(mesh.ws.path(cluster, 'nodes.yaml'), yamlDocs(node(`${cluster}-node`, region, `${region}-1a`)));
    }
    const ports = [HTTP, TCP];
    writeFileSync(mesh.ws.path('east', 'services.yaml'), yamlDocs());
    writeFileSync(
      mesh.ws.path('west', 'services.yaml'),
      [
        serviceManifests({ name: 'echo', namespace: 'demo', vip: ECHO.vip, ports, cluster: 'west', pods: [{ name: pods.echo.name, address: pods.echo.address, serviceAccount: 'echo' }] }),
        serviceManifests({ name: 'billing', namespace: 'demo', vip: BILLING.vip, ports, cluster: 'west', pods: [{ name: pods.billing.name, address: pods.billing.address, serviceAccount: 'billing' }] }),
      ].join('---\n'),
    );
    await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] });
    const west = { cluster: 'west', namespace: 'demo', locality: 'us-west/us-west-1a', ports: ECHO_APP_PORTS };
    [client, echo] = await Promise.all([
      mesh.sidecar(pods.sleep, { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} }),
      mesh.sidecar(pods.echo, { ...west, serviceAccount: 'echo' }),
      // The pod runs as billing, but its sidecar holds (and is issued for) another identity.
      mesh.sidecar(pods.billing, { ...west, serviceAccount: 'impostor' }),
    ]);
    plain = await PodApp.start(pods.plain, {});
  });

  after(() => mesh.closeChecked());

  it('a sidecar with the mesh certificate gets through (the control for what follows)', async () => {
    const answer = await eventually('echo through the sidecars', async () => {
      const a = await client.app.http1({ host: ECHO.vip, port: HTTP.port, authority: `${ECHO.host}:${HTTP.port}` });
      return a.status === 200 ? a : undefined;
    });
    assert.equal((JSON.parse(answer.body) as Received).pod, 'echo-west-0');
  });

  it('a plaintext client in the mesh network reaching a captured pod port directly is refused', async () => {
    const refusals = async () => (await echo.envoy.stats('no_filter_chain_match')).get('listener.0.0.0.0_15006.no_filter_chain_match') ?? 0;
    const before = await refusals();
    await assert.rejects(plain.http1({ host: pods.echo.address, port: HTTP.target, authority: `${ECHO.host}:${HTTP.port}` }), /socket hang up|ECONNRESET|closed/);
    await assert.rejects(plain.tcp({ host: pods.echo.address, port: TCP.target, data: 'ping' }), /ECONNRESET|closed/);
    assert.equal(await refusals(), before + 2, 'both refused by the inbound sidecar for want of TLS');
  });

  it("a server whose sidecar holds another identity's certificate is refused by the client's SAN check", async () => {
    const answer = await client.app.http1({ host: BILLING.vip, port: HTTP.port, authority: `${BILLING.host}:${HTTP.port}` });
    assert.equal(answer.status, 503, answer.body);
    await assert.rejects(client.app.tcp({ host: BILLING.vip, port: TCP.port, data: 'ping' }), /closed|ECONNRESET/);
    const cluster = (port: number) => `cluster.outbound|${port}||${BILLING.host}.ssl.fail_verify_san`;
    const stats = await client.envoy.stats('fail_verify_san');
    assert.ok((stats.get(cluster(HTTP.port)) ?? 0) >= 1, 'HTTP: SAN mismatch');
    assert.ok((stats.get(cluster(TCP.port)) ?? 0) >= 1, 'TCP: SAN mismatch');
  });
});
