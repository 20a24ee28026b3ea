// The certificate service with callers authenticated by Kubernetes TokenReview, against
// testkit's API servers (one per cluster) through the real client-node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  CertFailure,
  CertificateClient,
  KubeTokenAuthenticator,
  KubeTokenReviewer,
  SvidSigner,
  addCertificateService,
  createAuthority,
  createCsr,
  createSelfSignedRoot,
  type CertificateService,
  type TokenReviewer,
} from '@meridian/ca';
import { silentLogger } from '@meridian/model';
import { KubeApiServer } from '@meridian/testkit';

const TD = 'cluster.local';
const MERIDIAN_TOKEN = 'meridian-reviewer-token';
const execFileP = promisify(execFile);

function csrFor(ns: string, sa: string): string {
  return createCsr({ key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, uris: [`spiffe://${TD}/ns/${ns}/sa/${sa}`] }).pem;
}

async function expectStatus(p: Promise<unknown>, code: grpc.status): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    return true;
  });
}

describe('certificate service with Kubernetes TokenReview', () => {
  const clusters = new Map<string, KubeApiServer>();
  const reviewers = new Map<string, TokenReviewer>();
  let signer: SvidSigner;
  let service: CertificateService;
  let server: grpc.Server;
  let client: CertificateClient;

  const api = (id: string): KubeApiServer => {
    const a = clusters.get(id);
    assert.ok(a, id);
    return a;
  };
  const saToken = (cluster: string, ns: string, name: string, audiences: string[] = ['istio-ca']): string =>
    api(cluster).issueToken({ namespace: ns, name, audiences });

  before(async () => {
    for (const id of ['cluster-a', 'cluster-b']) {
      // Meridian's own credentials; any authenticated user may create TokenReviews here (AlwaysAllow).
      const a = await KubeApiServer.start({ tokens: { [MERIDIAN_TOKEN]: { username: 'system:serviceaccount:istio-system:meridian' } } });
      clusters.set(id, a);
      reviewers.set(id, new KubeTokenReviewer({ kubeConfig: a.kubeConfig({ token: MERIDIAN_TOKEN }) }));
    }
    const root = await createSelfSignedRoot({ trustDomain: TD });
    signer = new SvidSigner({ trustDomain: TD, authority: createAuthority({ certDer: root.certDer, key: root.key }) });
    server = new grpc.Server();
    service = addCertificateService(server, {
      signer,
      authenticators: [new KubeTokenAuthenticator({ primaryCluster: 'cluster-a', reviewerFor: (id) => reviewers.get(id), timeoutMs: 3000 })],
      logger: silentLogger(),
      rateLimit: false,
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new CertificateClient({ address: `127.0.0.1:${port}`, credentials: grpc.credentials.createInsecure() });
  });

  after(async () => {
    client.close();
    server.forceShutdown();
    await Promise.all([...clusters.values()].map((a) => a.close()));
  });

  it('a token for shop/cart gets an SVID for exactly that identity, which openssl verifies', async () => {
    const chain = await client.createCertificate({ csr: csrFor('shop', 'cart'), token: saToken('cluster-a', 'shop', 'cart') });
    assert.equal(chain.length, 2);
    assert.equal(new X509Certificate(chain[0] ?? '').subjectAltName, `URI:spiffe://${TD}/ns/shop/sa/cart`);
    const dir = await mkdtemp(path.join(tmpdir(), 'meridian-ca-it-'));
    try {
      await writeFile(path.join(dir, 'root.pem'), chain[1] ?? '');
      await writeFile(path.join(dir, 'leaf.pem'), chain[0] ?? '');
      const { stdout } = await execFileP('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'root.pem'), path.join(dir, 'leaf.pem')]);
      assert.match(stdout, /: OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const reviews = api('cluster-a').requests({ resource: 'tokenreviews' });
    assert.ok(reviews.length >= 1 && reviews.every((r) => r.user === 'system:serviceaccount:istio-system:meridian'));
  });

  it('the clusterid metadata picks the reviewing cluster', async () => {
    const before = api('cluster-a').requests({ resource: 'tokenreviews' }).length;
    const chain = await client.createCertificate({ csr: csrFor('shop', 'web'), token: saToken('cluster-b', 'shop', 'web'), clusterId: 'cluster-b' });
    assert.equal(chain.length, 2);
    assert.equal(api('cluster-a').requests({ resource: 'tokenreviews' }).length, before, 'cluster A was not asked');
  });

  it('asking for another service account is PERMISSION_DENIED and nothing is issued', async () => {
    const issued = signer.stats().issued;
    await expectStatus(client.createCertificate({ csr: csrFor('shop', 'payments'), token: saToken('cluster-a', 'shop', 'cart') }), grpc.status.PERMISSION_DENIED);
    assert.equal(signer.stats().issued, issued);
    assert.ok((service.stats().failed[CertFailure.Impersonation] ?? 0) >= 1);
  });

  it('a token of cluster A presented as cluster B, or for an unknown cluster, is UNAUTHENTICATED', async () => {
    const token = saToken('cluster-a', 'shop', 'cart');
    await expectStatus(client.createCertificate({ csr: csrFor('shop', 'cart'), token, clusterId: 'cluster-b' }), grpc.status.UNAUTHENTICATED);
    await expectStatus(client.createCertificate({ csr: csrFor('shop', 'cart'), token, clusterId: 'cluster-z' }), grpc.status.UNAUTHENTICATED);
  });

  it('expired, wrong-audience and legacy (API-audience) tokens are UNAUTHENTICATED', async () => {
    const a = api('cluster-a');
    a.addToken('expired', { username: 'system:serviceaccount:shop:cart', audiences: ['istio-ca'], expiresAt: Date.now() - 1000 });
    a.addToken('legacy', { username: 'system:serviceaccount:shop:cart' });
    const issued = signer.stats().issued;
    for (const token of ['expired', 'legacy', saToken('cluster-a', 'shop', 'cart', ['vault'])]) {
      await expectStatus(client.createCertificate({ csr: csrFor('shop', 'cart'), token }), grpc.status.UNAUTHENTICATED);
    }
    assert.equal(signer.stats().issued, issued);
  });

  it('a non-service-account user is PERMISSION_DENIED', async () => {
    api('cluster-a').addToken('alice', { username: 'alice', audiences: ['istio-ca'] });
    await expectStatus(client.createCertificate({ csr: csrFor('shop', 'cart'), token: 'alice' }), grpc.status.PERMISSION_DENIED);
  });

  it('the TokenReview API down is UNAVAILABLE; back up, it works again', async () => {
    const token = saToken('cluster-b', 'shop', 'cart');
    await api('cluster-b').stop();
    try {
      await expectStatus(client.createCertificate({ csr: csrFor('shop', 'cart'), token, clusterId: 'cluster-b' }), grpc.status.UNAVAILABLE);
    } finally {
      await api('cluster-b').start();
    }
    const chain = await client.createCertificate({ csr: csrFor('shop', 'cart'), token, clusterId: 'cluster-b' });
    assert.equal(chain.length, 2);
  });

  it('a TokenReview answered with 500 is UNAVAILABLE', async () => {
    api('cluster-a').failNext(1, { status: 500, match: { resource: 'tokenreviews' } });
    await expectStatus(client.createCertificate({ csr: csrFor('shop', 'cart'), token: saToken('cluster-a', 'shop', 'cart') }), grpc.status.UNAVAILABLE);
  });
});
