/**
 * Every port of the real `meridian serve`, probed as a client with no credentials at all
 * would (docs/security.md is the rule this checks): what each one gives, and that none of
 * them gives key material, while a TLS sidecar holding its certificate is connected.
 *
 * - 15010 (plaintext xDS): mesh config and roots, never a certificate; CSDS without secret
 *   bodies; no certificate API.
 * - 15012 (TLS xDS + CA) without a client certificate: ADS and CSDS refused; the certificate
 *   API refuses a CSR without a token.
 * - 15014 (HTTP): health, metrics, roots and debug views, none with a private key or a
 *   workload's certificate.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CertificateClient, createCsr, jwtSvidServiceDefinition, type FetchJwtSvidRequestMessage, type FetchJwtSvidResponseMessage } from '@meridian/ca';
import { AdsTestClient, CsdsTestClient, TypeUrls, type AdsResponse } from '@meridian/testkit';
import { endpointSlice, node, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { openTestCa, writeWorkloadCerts } from '../support/workload-certs.ts';

const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const SIDECAR = 'sidecar~10.0.0.9~echo-0.demo~demo.svc.cluster.local';

const codeOf = (err: unknown) => (err as { code?: number }).code;

describe('each port, without credentials', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let root: Buffer;
  /** The connected sidecar's certificate: nothing below may show any of it. */
  let leafPem = '';
  const closers: Array<{ close(): void }> = [];
  const serverOnlyTls = () => grpc.credentials.createSsl(root, null, null, { checkServerIdentity: () => undefined });
  const csr = () => createCsr({ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, uris: ['spiffe://cluster.local/ns/demo/sa/echo'] }).pem;
  const leaks = (text: string) => /PRIVATE KEY/.test(text) || text.includes(leafPem.split('\n')[1] ?? 'unset');

  before(async () => {
    mkdirSync(ws.path('c1'));
    ws.write(
      'c1/mesh.yaml',
      yamlDocs(
        node('n1', 'r1'),
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.9', node: 'n1' }]),
      ),
    );
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    const ca = await openTestCa(ws.path('ca'), 'cluster.local');
    root = Buffer.from(ca.rootPem);
    await writeWorkloadCerts(ca, ws.path('echo'), { namespace: 'demo', serviceAccount: 'echo' });

    const sidecar = AdsTestClient.connect(
      meridian.xdsTlsAddress,
      { id: SIDECAR, metadata: { CLUSTER_ID: 'c1' } },
      grpc.credentials.createSsl(root, readFileSync(ws.path('echo', 'key.pem')), readFileSync(ws.path('echo', 'cert-chain.pem')), {
        checkServerIdentity: () => undefined,
      }),
    );
    closers.push(sidecar);
    sidecar.send({ typeUrl: SECRET, names: ['default', 'ROOTCA'] });
    for (let i = 0; i < 5 && !leafPem; i++) {
      const r: AdsResponse = await sidecar.next(10_000);
      sidecar.ack(r, ['default', 'ROOTCA']);
      const tls = r.resources.find((s) => s['name'] === 'default')?.['tls_certificate'] as { certificate_chain: { inline_string: string } } | undefined;
      if (tls) leafPem = new X509Certificate(tls.certificate_chain.inline_string).toString();
    }
    assert.ok(leafPem, 'the sidecar holds a certificate');
  });

  after(async () => {
    for (const c of closers) c.close();
    await meridian.stop();
    ws.remove();
  });

  describe('15010, plaintext xDS', () => {
    it('serves mesh config and the roots, and no certificate even for a connected sidecar’s node id', async () => {
      const client = AdsTestClient.connect(meridian.xdsAddress, { id: SIDECAR, metadata: { CLUSTER_ID: 'c1', SERVICE_ACCOUNT: 'echo' } });
      closers.push(client);
      const cds = await client.requestAck(TypeUrls.Cluster);
      assert.ok(cds.resources.some((c) => c['name'] === 'outbound|7070||echo.demo.svc.cluster.local'), 'mesh config: yes');
      client.send({ typeUrl: SECRET, names: ['default', 'ROOTCA'] });
      const sds = await client.next();
      assert.deepEqual(sds.resources.map((s) => s['name']), ['ROOTCA'], 'roots: yes');
      client.ack(sds, ['default', 'ROOTCA']);
      assert.ok(await client.quiet(500), 'certificate: never');
    });

    it('answers CSDS with every proxy’s status, and secrets by name and version only', async () => {
      const csds = CsdsTestClient.connect(meridian.xdsAddress);
      closers.push(csds);
      const configs = await csds.fetch();
      assert.ok(configs.some((c) => c.node.id === SIDECAR));
      const secrets = configs.flatMap((c) => c.generic_xds_configs).filter((r) => r.type_url === SECRET);
      assert.ok(secrets.some((r) => r.name === 'default' && r.version_info), 'the sidecar’s default secret is listed');
      assert.ok(secrets.every((r) => r.xds_config === undefined), 'with no secret body');
      assert.equal(leaks(JSON.stringify(configs)), false);
    });

    it('does not serve the certificate API, nor the JWT-SVID API', async () => {
      const client = new CertificateClient({ address: meridian.xdsAddress, credentials: grpc.credentials.createInsecure() });
      closers.push(client);
      await assert.rejects(client.createCertificate({ csr: csr() }), (err) => codeOf(err) === grpc.status.UNIMPLEMENTED);
      assert.equal(await fetchJwtSvid(meridian.xdsAddress, grpc.credentials.createInsecure()), grpc.status.UNIMPLEMENTED);
    });
  });

  describe('15012, TLS xDS and CA, without a client certificate', () => {
    it('refuses ADS', async () => {
      const client = AdsTestClient.connect(meridian.xdsTlsAddress, { id: SIDECAR }, serverOnlyTls());
      closers.push(client);
      client.send({ typeUrl: SECRET, names: ['default'] });
      await assert.rejects(client.next(), (err) => codeOf(err) === grpc.status.UNAUTHENTICATED);
    });

    it('refuses CSDS, on both methods; with a mesh client certificate it answers', async () => {
      const csds = CsdsTestClient.connect(meridian.xdsTlsAddress, serverOnlyTls());
      closers.push(csds);
      await assert.rejects(csds.fetch(), (err) => codeOf(err) === grpc.status.UNAUTHENTICATED);
      await assert.rejects(csds.stream([{}]), (err) => codeOf(err) === grpc.status.UNAUTHENTICATED);

      const withCert = CsdsTestClient.connect(
        meridian.xdsTlsAddress,
        grpc.credentials.createSsl(root, readFileSync(ws.path('echo', 'key.pem')), readFileSync(ws.path('echo', 'cert-chain.pem')), {
          checkServerIdentity: () => undefined,
        }),
      );
      closers.push(withCert);
      const configs = await withCert.fetch();
      assert.ok(configs.some((c) => c.node.id === SIDECAR));
      assert.equal(leaks(JSON.stringify(configs)), false);
    });

    it('refuses a CSR without a token', async () => {
      const client = new CertificateClient({ address: meridian.xdsTlsAddress, credentials: serverOnlyTls() });
      closers.push(client);
      await assert.rejects(client.createCertificate({ csr: csr() }), (err) => codeOf(err) === grpc.status.UNAUTHENTICATED);
    });

    it('refuses a JWT-SVID without a token', async () => {
      assert.equal(await fetchJwtSvid(meridian.xdsTlsAddress, serverOnlyTls()), grpc.status.UNAUTHENTICATED);
    });
  });

  describe('15014, HTTP', () => {
    it('serves health, metrics, the roots and the debug views, none with key material', async () => {
      for (const pathname of ['/healthz', '/readyz', '/metrics', '/trust-bundle', '/.well-known/spiffe-bundle']) {
        const res = await fetch(`http://${meridian.httpAddress}${pathname}`);
        assert.equal(res.status, 200, pathname);
        assert.equal(leaks(await res.text()), false, `${pathname}: no key material`);
      }
      const index = await meridian.getJson<{ endpoints: string[] }>('/debug');
      assert.ok(index.body.endpoints.includes('/debug/config_dump'));
      for (const endpoint of index.body.endpoints) {
        for (const query of ['', `?proxy=${encodeURIComponent(SIDECAR)}&service=echo.demo.svc.cluster.local`]) {
          const res = await fetch(`http://${meridian.httpAddress}${endpoint}${query}`);
          assert.equal(leaks(await res.text()), false, `${endpoint}${query}: no key material`);
        }
      }
    });
  });
});

/** The status of a FetchJwtSvid call with no credentials beyond the channel's. */
async function fetchJwtSvid(address: string, credentials: grpc.ChannelCredentials): Promise<grpc.status> {
  const method = jwtSvidServiceDefinition()['FetchJwtSvid'] as grpc.MethodDefinition<FetchJwtSvidRequestMessage, FetchJwtSvidResponseMessage>;
  const client = new grpc.Client(address, credentials);
  try {
    return await new Promise<grpc.status>((resolve) =>
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { audience: ['a'] }, new grpc.Metadata(), (err) => resolve(err?.code ?? grpc.status.OK)),
    );
  } finally {
    client.close();
  }
}
