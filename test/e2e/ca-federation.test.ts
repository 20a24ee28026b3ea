/**
 * SPIFFE federation (https_web profile) end to end: the real `meridian serve` fetches another
 * trust domain's bundle from an HTTPS endpoint on a private PKI, serves it apart from our own
 * roots, follows its changes, and keeps the last good one when the endpoint fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { certToPem, createSelfSignedRoot, spiffeBundle, type CaCertificate } from '@meridian/ca';
import { eventually } from '../support/eventually.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const OTHER = 'other.test';

interface FederationView {
  trustDomain: string;
  sequence: number | null;
  fetchedAt: string | null;
  lastError: { message: string; at: string } | null;
  roots: Array<{ fingerprint256: string }>;
}
interface CaView {
  trustDomain: string;
  trustDomains: string[];
  roots: Array<{ fingerprint256: string }>;
  federation: FederationView[];
}

function fingerprints(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).fingerprint256);
}

const fp = (c: CaCertificate) => new X509Certificate(c.certDer).fingerprint256;

/** A serving certificate for 127.0.0.1 from a throwaway web CA, made with openssl. */
function issueServingCert(ws: Workspace, webCa: CaCertificate): { key: string; cert: string } {
  const caCert = ws.write('web-ca.pem', certToPem(webCa.certDer));
  const caKey = ws.write('web-ca.key', webCa.key.export({ type: 'pkcs8', format: 'pem' }).toString());
  const ext = ws.write('server.ext', 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  const key = ws.path('server.key');
  const csr = ws.path('server.csr');
  const cert = ws.path('server.pem');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', '/CN=bundle-endpoint', '-out', csr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', cert], { stdio: 'ignore' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

describe('CA: federation with another trust domain (SPIFFE bundle endpoint, https_web)', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let endpoint: Server;
  let otherA: CaCertificate;
  let otherB: CaCertificate;
  // What the peer's endpoint answers; the tests change it.
  let served: { status: number; body: string } = { status: 503, body: '' };
  let requests = 0;

  const ca = async () => (await meridian.getJson<CaView>('/debug/ca')).body;
  const bundle = async (query = '') => {
    const res = await fetch(`http://${meridian.httpAddress}/trust-bundle${query}`);
    return { status: res.status, text: await res.text() };
  };

  before(async () => {
    const webCa = await createSelfSignedRoot({ trustDomain: 'web.test', commonName: 'Throwaway Web CA' });
    otherA = await createSelfSignedRoot({ trustDomain: OTHER, commonName: 'Other Root A' });
    otherB = await createSelfSignedRoot({ trustDomain: OTHER, commonName: 'Other Root B' });
    served = { status: 200, body: JSON.stringify(spiffeBundle({ rootsDer: [otherA.certDer], sequence: 1, refreshHintSeconds: 1 })) };
    endpoint = createServer(issueServingCert(ws, webCa), (req, res) => {
      requests++;
      res.writeHead(req.url === '/bundle' ? served.status : 404, { 'content-type': 'application/json' }).end(served.body);
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const { port } = endpoint.address() as AddressInfo;

    mkdirSync(ws.path('c1'));
    const config = ws.writeConfig({
      clusters: [{ id: 'c1', manifests: './c1' }],
      // refreshHintSeconds set explicitly lowers the refresh floor to 1 s, so the test need not wait 30 s.
      federation: [{ trustDomain: OTHER, bundleEndpoint: `https://127.0.0.1:${port}/bundle`, caFile: ws.path('web-ca.pem'), refreshHintSeconds: 1 }],
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    await meridian.stop();
    await new Promise((r) => endpoint.close(r));
    ws.remove();
  });

  it('serves the other domain’s roots, and only ours without the query', async () => {
    const other = await eventually('the federated bundle fetched', async () => {
      const b = await bundle(`?trustDomain=${OTHER}`);
      return b.status === 200 ? b.text : undefined;
    });
    assert.deepEqual(fingerprints(other), [fp(otherA)]);

    const view = await ca();
    const ours = view.roots.map((r) => r.fingerprint256);
    assert.equal(ours.length, 1);
    const plain = await bundle();
    assert.equal(plain.status, 200);
    assert.deepEqual(fingerprints(plain.text), ours, 'our bundle holds our root only, never the federated ones');
    assert.deepEqual(fingerprints((await bundle(`?trustDomain=${view.trustDomain}`)).text), ours);
    assert.equal((await bundle('?trustDomain=unknown.test')).status, 404);

    assert.deepEqual(view.trustDomains, ['cluster.local', OTHER]);
    const fed = view.federation.find((f) => f.trustDomain === OTHER);
    assert.equal(fed?.sequence, 1);
    assert.equal(fed.lastError, null);
    assert.deepEqual(fed.roots.map((r) => r.fingerprint256), [fp(otherA)]);
  });

  it('follows a new bundle (new sequence) at the publisher’s refresh hint', async () => {
    served = { status: 200, body: JSON.stringify(spiffeBundle({ rootsDer: [otherB.certDer, otherA.certDer], sequence: 2, refreshHintSeconds: 1 })) };
    const fed = await eventually('sequence 2 fetched', async () => (await ca()).federation.find((f) => f.trustDomain === OTHER && f.sequence === 2), 10_000);
    assert.deepEqual(fed.roots.map((r) => r.fingerprint256), [fp(otherB), fp(otherA)]);
    assert.deepEqual(fingerprints((await bundle(`?trustDomain=${OTHER}`)).text), [fp(otherB), fp(otherA)]);
    assert.equal((await ca()).roots.length, 1, 'our own roots are untouched');
  });

  it('keeps the last good bundle with lastError set while the endpoint fails, then recovers', async () => {
    served = { status: 500, body: 'boom' };
    const failed = await eventually('the failure recorded', async () => (await ca()).federation.find((f) => f.trustDomain === OTHER && f.lastError !== null), 10_000);
    assert.match(failed.lastError?.message ?? '', /HTTP 500/);
    assert.equal(failed.sequence, 2);
    assert.deepEqual(failed.roots.map((r) => r.fingerprint256), [fp(otherB), fp(otherA)]);
    const still = await bundle(`?trustDomain=${OTHER}`);
    assert.equal(still.status, 200);
    assert.deepEqual(fingerprints(still.text), [fp(otherB), fp(otherA)]);
    assert.ok(meridian.logs.some((l) => l.msg.includes('keeping the last good bundle')), 'the failure is logged');

    // An invalid document is a failure too: it never replaces the good bundle.
    served = { status: 200, body: JSON.stringify({ keys: [{ use: 'jwt-svid', kty: 'EC' }] }) };
    await eventually('the invalid bundle refused', async () =>
      (await ca()).federation.find((f) => f.trustDomain === OTHER && /x509-svid/.test(f.lastError?.message ?? '')),
    );
    assert.deepEqual(fingerprints((await bundle(`?trustDomain=${OTHER}`)).text), [fp(otherB), fp(otherA)]);

    served = { status: 200, body: JSON.stringify(spiffeBundle({ rootsDer: [otherB.certDer], sequence: 3, refreshHintSeconds: 1 })) };
    const back = await eventually('recovered', async () => (await ca()).federation.find((f) => f.trustDomain === OTHER && f.sequence === 3 && f.lastError === null));
    assert.deepEqual(back.roots.map((r) => r.fingerprint256), [fp(otherB)]);
    assert.ok(requests >= 5);
  });
});
