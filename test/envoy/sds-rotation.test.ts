/**
 * SDS on running Envoys: the plugged-in CA is rotated twice under continuous traffic between
 * two sidecars — first a new intermediate under the same root (every sidecar gets a new
 * SVID), then a new root (every sidecar gets both roots and an SVID from the new chain). No
 * Envoy restarts, no request fails, and each Envoy's admin /certs shows the new certificates.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createAuthority, createIntermediate, createSelfSignedRoot, type CaAuthority, type CaCertificate } from '@meridian/ca';
import { RealPeer, realPeersMissing, type Received } from '@meridian/testkit';
import { CacertsVolume } from '../support/cacerts-volume.ts';
import { EnvoyMesh, TRUST_DOMAIN, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { node, yamlDocs } from '../support/manifests.ts';
import { trafficLoop, type TrafficLoop } from '../support/traffic-loop.ts';
import { testCaOf } from '../support/workload-certs.ts';
import { ECHO_APP_PORTS, ECHO_PORTS, serviceManifests } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO_VIP = '10.96.0.20';
const ECHO_HOST = 'echo.demo.svc.cluster.local';
const HTTP = ECHO_PORTS.http;
const TCP = ECHO_PORTS.tcp;

interface CertInfo {
  path?: string;
  serial_number?: string;
  subject_alt_names?: Array<{ uri?: string }>;
}

/** What an Envoy's /certs says of its SDS certificates (not the bootstrap's files for xDS). */
async function sdsCerts(w: Workload): Promise<{ leafSerials: string[]; caSerials: string[] }> {
  const body = JSON.parse(await w.envoy.admin('/certs')) as { certificates?: Array<{ ca_cert?: CertInfo[]; cert_chain?: CertInfo[] }> };
  const inline = (c: CertInfo) => !c.path?.startsWith('/');
  const leafSerials = new Set<string>();
  const caSerials = new Set<string>();
  for (const tls of body.certificates ?? []) {
    for (const c of (tls.cert_chain ?? []).filter(inline)) if (c.serial_number) leafSerials.add(c.serial_number);
    for (const c of (tls.ca_cert ?? []).filter(inline)) if (c.serial_number) caSerials.add(c.serial_number);
  }
  return { leafSerials: [...leafSerials].sort(), caSerials: [...caSerials].sort() };
}

function serialOf(cert: CaAuthority): string {
  return cert.cert.serialNumber.toLowerCase().replace(/^0+/, '');
}

/** Requests from `client` alternating HTTP and TCP (each TCP one a new mTLS handshake). */
function continuousTraffic(client: Workload): TrafficLoop {
  return trafficLoop(async (i) => {
    if (i % 2 === 0) {
      const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 3000 });
      return a.status === 200 && (JSON.parse(a.body) as Received).pod === 'echo-0' ? undefined : `HTTP ${a.status} ${a.body.slice(0, 200)}`;
    }
    const line = await client.app.tcp({ host: ECHO_VIP, port: TCP.port, data: `n${i}`, timeoutMs: 3000 });
    return line === `echo-0 n${i}` ? undefined : `TCP answered ${JSON.stringify(line)}`;
  });
}

describe('SDS rotation on running Envoys', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let server: Workload;
  let volume: CacertsVolume;
  let rootA: CaAuthority;
  let rootB: CaAuthority;
  let rootsB: string[];

  async function intermediate(parent: CaAuthority): Promise<CaCertificate> {
    return createIntermediate({ parent, clusterId: 'east', trustDomain: TRUST_DOMAIN });
  }

  before(async () => {
    mesh = new EnvoyMesh();
    const clientPod = mesh.bed.addPod('sleep-0');
    const serverPod = mesh.bed.addPod('echo-0');
    const a = await createSelfSignedRoot({ trustDomain: TRUST_DOMAIN, commonName: 'Root A' });
    const b = await createSelfSignedRoot({ trustDomain: TRUST_DOMAIN, commonName: 'Root B' });
    rootA = createAuthority({ certDer: a.certDer, key: a.key });
    rootB = createAuthority({ certDer: b.certDer, key: b.key });
    rootsB = [serialOf(rootA), serialOf(rootB)].sort();
    volume = new CacertsVolume(mesh.ws.path('cacerts'));
    const first = await volume.publish(await intermediate(rootA), rootA, [rootA]);
    mkdirSync(mesh.ws.path('east'));
    writeFileSync(mesh.ws.path('east', 'nodes.yaml'), yamlDocs(node('east-node', 'us-east', 'us-east-1a')));
    writeFileSync(
      mesh.ws.path('east', 'echo.yaml'),
      serviceManifests({ name: 'echo', namespace: 'demo', vip: ECHO_VIP, ports: [HTTP, TCP], cluster: 'east', pods: [{ name: serverPod.name, address: serverPod.address, serviceAccount: 'echo' }] }),
    );
    await mesh.startMeridian(
      { mtls: { mode: 'strict' }, ca: { dir: './ca', cacerts: './cacerts' }, clusters: [{ id: 'east', manifests: './east' }] },
      { ca: testCaOf(first, TRUST_DOMAIN) },
    );
    const spec = { cluster: 'east', namespace: 'demo', locality: 'us-east/us-east-1a' };
    [server, client] = await Promise.all([
      mesh.sidecar(serverPod, { ...spec, serviceAccount: 'echo', ports: ECHO_APP_PORTS }),
      mesh.sidecar(clientPod, { ...spec, serviceAccount: 'sleep', ports: {} }),
    ]);
  });

  after(() => mesh.closeChecked());

  it('a new SVID, then a new root, reach both Envoys with no restart and no failed request', async () => {
    await eventually('traffic flowing', async () => {
      const a = await client.app.http1({ host: ECHO_VIP, port: HTTP.port, authority: `${ECHO_HOST}:${HTTP.port}`, timeoutMs: 2000 });
      return a.status === 200 ? true : undefined;
    });
    const sidecars = [client, server];
    const pids = sidecars.map((w) => w.envoy.process.pid);
    const initial = await Promise.all(sidecars.map(sdsCerts));
    for (const c of initial) {
      assert.equal(c.leafSerials.length, 1, JSON.stringify(c));
      assert.deepEqual(c.caSerials, [serialOf(rootA)]);
    }
    const traffic = continuousTraffic(client);
    try {
      // 1. A new intermediate under the same root: new SVIDs, same roots.
      await volume.publish(await intermediate(rootA), rootA, [rootA]);
      const renewed = await Promise.all(
        sidecars.map((w, i) =>
          eventually(`a new SVID in ${w.pod.name}`, async () => {
            const c = await sdsCerts(w);
            return c.leafSerials.length === 1 && c.leafSerials[0] !== initial[i]?.leafSerials[0] ? c : undefined;
          }),
        ),
      );
      for (const c of renewed) assert.deepEqual(c.caSerials, [serialOf(rootA)]);
      const afterFirst = traffic.ok();
      // 2. A new root, the old one still trusted: both roots everywhere, SVIDs from the new chain.
      await volume.publish(await intermediate(rootB), rootB, [rootB, rootA]);
      await Promise.all(
        sidecars.map((w, i) =>
          eventually(`root B and a new SVID in ${w.pod.name}`, async () => {
            const c = await sdsCerts(w);
            return c.leafSerials.length === 1 && c.leafSerials[0] !== renewed[i]?.leafSerials[0] && c.caSerials.join() === rootsB.join() ? c : undefined;
          }),
        ),
      );
      // Requests after both changes, every other one a new handshake with the new certificates.
      const settled = traffic.ok();
      await eventually('requests on the new certificates', async () => (traffic.ok() >= settled + 10 ? true : undefined));
      assert.ok(afterFirst > 0, 'requests ran during the first rotation');
    } finally {
      const { ok, failures } = await traffic.stop();
      console.log(`# sds rotation: ${ok} requests, ${failures.length} failed`);
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} requests failed`);
    }
    assert.deepEqual(sidecars.map((w) => w.envoy.process.pid), pids, 'no Envoy restarted');
    assert.ok(sidecars.every((w) => w.envoy.process.running));
  });
});
