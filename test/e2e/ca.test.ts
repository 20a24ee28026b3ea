/**
 * The CA end to end: the real `meridian serve` issues SVIDs over its TLS port to callers that
 * prove who they are, the chains verify with openssl, and the TLS ADS port takes a proxy's
 * identity from its certificate.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { startKubeCluster, type KubeTestCluster } from '../support/kube-cluster.ts';
import { CLI, MeridianProcess, REPO_ROOT, Workspace } from '../support/meridian-process.ts';

describe('CA: SVIDs over the certificate API', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let cluster: KubeTestCluster;
  let rootFile = '';
  let config = '';

  const certificate = (args: string[]) =>
    MeridianProcess.run(['certificate', '--server', meridian.xdsTlsAddress, '--server-name', 'localhost', '--root-cert', rootFile, ...args]);

  before(async () => {
    cluster = await startKubeCluster('alpha', 'r1');
    // A workload token as the cluster's TokenReview knows it (audience istio-ca).
    cluster.api.addToken('workload-token', { username: 'system:serviceaccount:demo:echo', audiences: ['istio-ca'] });
    cluster.api.addToken('api-only-token', { username: 'system:serviceaccount:demo:echo' });
    ws.write('alpha.kubeconfig', cluster.api.kubeconfigYaml({ token: cluster.token }));
    config = ws.writeConfig({
      namespace: 'meridian-system',
      clusters: [{ id: 'alpha', kubeconfig: './alpha.kubeconfig', primary: true }],
      ca: { dir: './ca' },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    const res = await fetch(`http://${meridian.httpAddress}/trust-bundle`);
    assert.equal(res.status, 200);
    rootFile = ws.write('root.pem', await res.text());
  });

  after(async () => {
    await meridian.stop();
    await cluster.api.close();
    ws.remove();
  });

  it('issues an SVID to a token from the local issuer (no cluster needed); openssl verifies it', async () => {
    const token = await MeridianProcess.run(['token', '--config', config, '--namespace', 'demo', '--service-account', 'echo']);
    assert.equal(token.code, 0, token.stderr);
    const out = ws.path('svid-local');
    const got = await certificate(['--token', token.stdout.trim(), '--namespace', 'demo', '--service-account', 'echo', '--out', out]);
    assert.equal(got.code, 0, got.stderr);
    const chain = readFileSync(path.join(out, 'cert-chain.pem'), 'utf8');
    const leaf = new X509Certificate(chain);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/demo/sa/echo');
    const verify = execFileSync('openssl', ['verify', '-CAfile', rootFile, '-purpose', 'sslclient', path.join(out, 'cert-chain.pem')], { encoding: 'utf8' });
    assert.match(verify, /OK/);
  });

  it('issues to a Kubernetes service-account token checked by TokenReview in its cluster', async () => {
    const out = ws.path('svid-kube');
    const got = await certificate(['--token', 'workload-token', '--cluster-id', 'alpha', '--namespace', 'demo', '--service-account', 'echo', '--out', out]);
    assert.equal(got.code, 0, got.stderr);
    assert.ok(cluster.api.requests({ resource: 'tokenreviews' }).length > 0, 'TokenReview was asked');
  });

  it('refuses impersonation, unknown clusters and tokens for another audience, issuing nothing', async () => {
    const before = (await meridian.getJson<{ stats: { issued: number } }>('/debug/ca')).body.stats.issued;
    const other = await certificate(['--token', 'workload-token', '--cluster-id', 'alpha', '--namespace', 'demo', '--service-account', 'admin', '--out', ws.path('x1')]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /PERMISSION_DENIED/);
    const wrongCluster = await certificate(['--token', 'workload-token', '--cluster-id', 'beta', '--namespace', 'demo', '--service-account', 'echo', '--out', ws.path('x2')]);
    assert.match(wrongCluster.stderr, /UNAUTHENTICATED/);
    const audience = await certificate(['--token', 'api-only-token', '--cluster-id', 'alpha', '--namespace', 'demo', '--service-account', 'echo', '--out', ws.path('x3')]);
    assert.match(audience.stderr, /UNAUTHENTICATED/);
    assert.equal((await meridian.getJson<{ stats: { issued: number } }>('/debug/ca')).body.stats.issued, before);
    assert.equal(existsSync(ws.path('x1')), false);
    assert.ok(meridian.logs.some((l) => l.level >= 40 && String(l['identity'] ?? '').includes('demo')), 'the refusal is logged with the caller identity');
  });

  it('requires a client SVID on the TLS ADS port, and trusts it over node metadata', async () => {
    const root = readFileSync(rootFile);
    // The chain is verified; only the name check is skipped, since we dial an IP address.
    const verifyOptions = { checkServerIdentity: () => undefined };
    const anonymous = AdsTestClient.connect(meridian.xdsTlsAddress, { id: 'no-cert' }, grpc.credentials.createSsl(root, null, null, verifyOptions));
    anonymous.send({ typeUrl: TypeUrls.Cluster, names: [] });
    await assert.rejects(anonymous.next(5000), /workload certificate/);
    anonymous.close();

    const dir = ws.path('svid-local');
    const withCert = AdsTestClient.connect(
      meridian.xdsTlsAddress,
      { id: 'tls-proxy', metadata: { NAMESPACE: 'kube-system', SERVICE_ACCOUNT: 'root' } },
      grpc.credentials.createSsl(root, readFileSync(path.join(dir, 'key.pem')), readFileSync(path.join(dir, 'cert-chain.pem')), verifyOptions),
    );
    await withCert.requestAck(TypeUrls.Cluster, []);
    const { body } = await meridian.getJson<{ proxies: Array<{ node: string; namespace: string }> }>('/debug/syncz?proxy=tls-proxy');
    assert.equal(body.proxies[0]?.namespace, 'demo', 'the certificate says demo, whatever the metadata claims');
    withCert.close();
  });

  it('publishes the trust bundle as PEM and as a SPIFFE bundle', async () => {
    const { body } = await meridian.getJson<{ keys: Array<{ use: string; x5c: string[] }>; spiffe_refresh_hint: number }>('/.well-known/spiffe-bundle');
    // The root, and the key JWT-SVIDs are signed with (test/e2e/jwt-svid.test.ts).
    assert.deepEqual(body.keys.map((k) => k.use), ['x509-svid', 'jwt-svid']);
    const root = new X509Certificate(readFileSync(rootFile));
    assert.equal(new X509Certificate(Buffer.from(body.keys[0]?.x5c[0] ?? '', 'base64')).fingerprint256, root.fingerprint256);
    assert.ok(body.spiffe_refresh_hint > 0);
  });
});

describe('CA: first start killed half way', () => {
  it('leaves exactly one valid root after a crash during creation', async () => {
    for (const killAfterMs of [350, 550, 750]) {
      const ws = new Workspace();
      try {
        mkdirSync(ws.path('c1'));
        const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
        const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', config], { cwd: REPO_ROOT, stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, killAfterMs));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        const m = await MeridianProcess.start(['serve', '--config', config]);
        const { body } = await m.getJson<{ roots: unknown[] }>('/debug/ca');
        await m.stop();
        assert.equal(body.roots.length, 1, `one root after a kill at ${killAfterMs} ms`);
        const cacerts = ws.path('ca', 'cacerts');
        const root = new X509Certificate(readFileSync(path.join(cacerts, 'root-cert.pem')));
        assert.ok(root.verify(root.publicKey), 'the root is self-signed and intact');
        assert.deepEqual(readdirSync(ws.path('ca')).filter((f) => f.startsWith('.') || f.includes('staging')), [], 'no half-written leftovers');
      } finally {
        ws.remove();
      }
    }
  });
});
