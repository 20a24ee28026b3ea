/**
 * ServiceEntries through a real Envoy sidecar to an "external" workload: a pod with no
 * sidecar, outside the mesh, whose names only the client pod's hosts file knows
 * (https://istio.io/latest/docs/reference/config/networking/service-entry/). Checked on what
 * that workload received: STATIC endpoints over EDS, DNS names Envoy resolves itself, NONE
 * going where the application sent it, a TCP entry picked by its CIDR, a TLS host picked by
 * SNI and passed through untouched, and a VirtualService applying to an external host. The
 * mesh is strict mTLS: none of this may be spoken with mesh certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PodApp, RealPeer, realPeersMissing, type Pod, type Received } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { node, yamlDocs } from '../support/manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

/** What the external workload serves: HTTP, a line-echo TCP port, and TLS. */
const EXTERNAL_PORTS = { http1: 8080, tcp: 9000 };
const TLS_PORT = 443;
/** Addresses in the pods' service range: captured by the client's sidecar, routed nowhere else. */
const HTTPBIN_DIAL = '10.96.200.1';
const DNS_DIAL = '10.96.200.2';
const TLS_DIAL = '10.96.200.3';
const DB_BLOCK = '10.96.201.0/24';
const FRONT_DIAL = '10.96.200.9';
const FRONT = 'front.demo.svc.cluster.local';

const entry = (name: string, spec: object) => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'egress' }, spec });

/** A TLS server that tells the client which name it asked for, with a certificate for any name. */
const TLS_SERVER = `
const tls = require('node:tls');
const fs = require('node:fs');
const [key, cert, port] = process.argv.slice(1);
tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (s) => { s.end('external-tls ' + (s.servername || '-') + '\\n'); }).listen(Number(port), '0.0.0.0');
`;

/** A TLS client run in the client pod (as root: captured, as an application's connection is). */
const TLS_CLIENT = `
const tls = require('node:tls');
const [host, port, servername] = process.argv.slice(1);
const timer = setTimeout(() => { console.log('timeout'); process.exit(0); }, 3000);
const s = tls.connect({ host, port: Number(port), servername, rejectUnauthorized: false }, () => {});
let got = '';
s.setEncoding('utf8');
s.on('data', (c) => { got += c; });
s.on('end', () => { clearTimeout(timer); console.log(got.trim()); process.exit(0); });
s.on('error', (e) => { clearTimeout(timer); console.log('error ' + e.code); process.exit(0); });
`;

describe('ServiceEntry through an Envoy sidecar', { skip }, () => {
  let mesh: EnvoyMesh;
  let client: Workload;
  let external: Pod;
  let sleep: Pod;

  async function get(dial: string, port: number, authority: string, pathname = '/'): Promise<{ status: number; got?: Received }> {
    const a = await client.app.http1({ host: dial, port, authority, path: pathname, timeoutMs: 5000 });
    return a.status === 200 ? { status: a.status, got: JSON.parse(a.body) as Received } : { status: a.status };
  }

  function tlsFromClient(dial: string, servername: string): string {
    return sleep.exec('node', ['-e', TLS_CLIENT, dial, String(TLS_PORT), servername]).trim();
  }

  before(async () => {
    mesh = new EnvoyMesh();
    sleep = mesh.bed.addPod('sleep-east-0');
    external = mesh.bed.addPod('external-0');
    // The external workload: no sidecar, no capture, plain HTTP and TCP, and TLS with its own certificate.
    await PodApp.start(external, EXTERNAL_PORTS);
    const key = path.join(external.dir, 'tls.key');
    const cert = path.join(external.dir, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=secure.external.test', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    external.spawn('node', ['-e', TLS_SERVER, key, cert, String(TLS_PORT)], { logName: 'tls-server.log' });
    // Names only the client pod resolves: Envoy's resolver reads them from its hosts file.
    sleep.setHosts({ 'app.external.test': external.address, 'secure.external.test': external.address });

    mkdirSync(mesh.ws.path('east'));
    writeFileSync(
      mesh.ws.path('east', 'mesh.yaml'),
      yamlDocs(
        node('east-node', 'us-east', 'us-east-1a'),
        entry('httpbin', { hosts: ['httpbin.external.test'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: external.address, ports: { http: EXTERNAL_PORTS.http1 } }] }),
        entry('by-dns', { hosts: ['dns.external.test'], ports: [{ number: 81, name: 'http', protocol: 'HTTP', targetPort: EXTERNAL_PORTS.http1 }], resolution: 'DNS', endpoints: [{ address: 'app.external.test' }] }),
        entry('legacy', { hosts: ['legacy.external.test'], ports: [{ number: EXTERNAL_PORTS.http1, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' }),
        entry('secure', { hosts: ['secure.external.test'], ports: [{ number: TLS_PORT, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' }),
        entry('db', { hosts: ['db.external.test'], addresses: [DB_BLOCK], ports: [{ number: EXTERNAL_PORTS.tcp, name: 'tcp', protocol: 'TCP' }], resolution: 'STATIC', endpoints: [{ address: external.address }] }),
        // A mesh service whose route sends one path out of the mesh.
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'front', namespace: 'demo' }, spec: { clusterIP: FRONT_DIAL, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'front', namespace: 'demo' },
          spec: { hosts: [FRONT], http: [{ match: [{ uri: { prefix: '/out' } }], route: [{ destination: { host: 'httpbin.external.test' } }] }, { route: [{ destination: { host: FRONT } }] }] },
        },
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'egress', namespace: 'egress' },
          spec: {
            hosts: ['httpbin.external.test', 'legacy.external.test'],
            http: [
              { match: [{ uri: { prefix: '/teapot' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [{ destination: { host: 'httpbin.external.test' } }] },
              { match: [{ authority: { exact: 'legacy.external.test' } }], headers: { request: { set: { 'x-egress': 'legacy' } } }, route: [{ destination: { host: 'legacy.external.test' } }] },
              { headers: { request: { set: { 'x-egress': 'httpbin' } } }, route: [{ destination: { host: 'httpbin.external.test' } }] },
            ],
          },
        },
      ),
    );
    await mesh.startMeridian({ mtls: { mode: 'strict' }, clusters: [{ id: 'east', manifests: './east' }] });
    client = await mesh.sidecar(sleep, { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {} });
    await eventually('the STATIC entry answering', async () => ((await get(HTTPBIN_DIAL, 80, 'httpbin.external.test')).got?.pod === 'external-0' ? true : undefined), 20_000, 100);
  });

  after(() => mesh.closeChecked());

  it('a STATIC entry reaches its endpoint over plain HTTP, with the VirtualService of its host applied', async () => {
    const { got } = await get(HTTPBIN_DIAL, 80, 'httpbin.external.test', '/anything');
    assert.equal(got?.pod, 'external-0');
    assert.equal(got?.headers['x-egress'], 'httpbin', 'the route of the external host applied');
    assert.equal(got?.headers['x-forwarded-client-cert'], undefined, 'no mesh identity is sent outside the mesh');
    assert.deepEqual(Object.keys(got?.headers ?? {}).filter((h) => h.startsWith('x-meridian')), [], 'nor the workload metrics\' identity headers');
    assert.equal((await get(HTTPBIN_DIAL, 80, 'httpbin.external.test', '/teapot')).status, 418);
    const stats = await client.envoy.stats('upstream_rq_completed');
    assert.ok((stats.get('cluster.outbound|80||httpbin.external.test.upstream_rq_completed') ?? 0) >= 2, 'through the entry cluster');
  });

  it("a mesh service's route that leaves the mesh sends none of the caller's identity headers", async () => {
    const { got } = await get(FRONT_DIAL, 80, FRONT, '/out/anything');
    assert.equal(got?.pod, 'external-0', 'routed to the entry');
    assert.deepEqual(Object.keys(got?.headers ?? {}).filter((h) => h.startsWith('x-meridian')), [], "neither the caller's workload nor the service it called");
  });

  it("a DNS entry's endpoint name is resolved by Envoy, and the port maps to its targetPort", async () => {
    const { got } = await eventually('the DNS entry answering', async () => {
      const a = await get(DNS_DIAL, 81, 'dns.external.test');
      return a.got ? a : undefined;
    }, 10_000, 100);
    assert.equal(got?.pod, 'external-0');
    const clusters = await client.envoy.admin('/clusters');
    assert.match(clusters, new RegExp(`outbound\\|81\\|\\|dns\\.external\\.test::${external.address.replaceAll('.', '\\.')}:${EXTERNAL_PORTS.http1}::`), 'the resolved address is the cluster member');
  });

  it('NONE sends the request where the application sent it, through the host’s routes', async () => {
    const { got } = await get(external.address, EXTERNAL_PORTS.http1, 'legacy.external.test', '/old-api');
    assert.equal(got?.pod, 'external-0');
    assert.equal(got?.headers['x-egress'], 'legacy', 'routed as the entry host, not passed through blind');
    assert.deepEqual(Object.keys(got?.headers ?? {}).filter((h) => h.startsWith('x-meridian')), []);
    // A host the mesh does not know (passed through as it came) gets no identity headers either.
    const unknown = await client.app.http1({ host: external.address, port: EXTERNAL_PORTS.http1, authority: 'unknown.external.test', path: '/', timeoutMs: 5000 });
    assert.deepEqual(Object.keys((JSON.parse(unknown.body) as Received).headers).filter((h) => h.startsWith('x-meridian')), []);
  });

  it('a TCP entry is picked by its CIDR', async () => {
    for (const last of [7, 200]) {
      assert.equal(await client.app.tcp({ host: `10.96.201.${last}`, port: EXTERNAL_PORTS.tcp, data: 'ping' }), 'external-0 ping');
    }
    const stats = await client.envoy.stats('upstream_cx_total');
    assert.equal(stats.get(`cluster.outbound|${EXTERNAL_PORTS.tcp}||db.external.test.upstream_cx_total`), 2);
  });

  it('a TLS entry is picked by the SNI the client sends and passed through; another name goes nowhere', () => {
    assert.equal(tlsFromClient(TLS_DIAL, 'secure.external.test'), 'external-tls secure.external.test');
    assert.notEqual(tlsFromClient(TLS_DIAL, 'other.external.test'), 'external-tls other.external.test');
  });
  it('outboundTrafficPolicy REGISTRY_ONLY: entries still answer, destinations the mesh does not know go nowhere', async () => {
    const unknownHttp = async () => (await client.app.http1({ host: external.address, port: EXTERNAL_PORTS.http1, authority: 'unknown.external.test', path: '/', timeoutMs: 3000 })).status;
    const unknownTcp = () => client.app.tcp({ host: external.address, port: EXTERNAL_PORTS.tcp, data: 'ping', timeoutMs: 2000 }).catch((err: unknown) => `failed: ${String(err)}`);
    assert.equal(await unknownHttp(), 200, 'ALLOW_ANY passes an unknown host through');
    assert.equal(await unknownTcp(), 'external-0 ping');
    writeFileSync(
      mesh.ws.path('east', 'sidecar.yaml'),
      yamlDocs({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'demo' }, spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } }),
    );
    await eventually('unknown hosts refused', async () => ((await unknownHttp()) === 502 ? true : undefined), 20_000, 200);
    assert.match(await unknownTcp(), /^failed/, 'a TCP connection to an address no entry names is dropped');
    assert.equal((await get(HTTPBIN_DIAL, 80, 'httpbin.external.test')).got?.pod, 'external-0', 'a ServiceEntry host still answers');
    assert.equal(await client.app.tcp({ host: '10.96.201.9', port: EXTERNAL_PORTS.tcp, data: 'ping' }), 'external-0 ping', 'so does a TCP entry');
  });
});
