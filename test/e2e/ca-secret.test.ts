/**
 * The self-signed CA kept in a Secret of the primary cluster (ca.secret): replicas started
 * together agree on one root, a restart reuses it, an invalid Secret stops Meridian instead of
 * being replaced, and a Secret created by someone else between our read and our create is adopted.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CertificateClient, LocalJwtIssuer, certToPem, createCsr, createSelfSignedRoot, toPem, workloadSpiffeId } from '@meridian/ca';
import type { KubeObjectInput } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { SYSTEM_NAMESPACE, startKubeCluster, type KubeTestCluster } from '../support/kube-cluster.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const SECRET = { apiVersion: 'v1', kind: 'Secret', namespace: SYSTEM_NAMESPACE, name: 'meridian-ca' } as const;

/** A CA Secret in Istio's cacerts layout, with a root that is not Meridian's. */
async function foreignCaSecret(override: Record<string, string> = {}): Promise<{ secret: KubeObjectInput; rootPem: string }> {
  const root = await createSelfSignedRoot({ trustDomain: 'cluster.local', commonName: 'someone else' });
  const rootPem = certToPem(root.certDer);
  const { privateKey: jwt } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const files: Record<string, string> = {
    'ca-cert.pem': rootPem,
    'ca-key.pem': toPem(root.key.export({ type: 'pkcs8', format: 'der' }), 'PRIVATE KEY'),
    'cert-chain.pem': rootPem,
    'root-cert.pem': rootPem,
    'jwt-signing-key.pem': jwt.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ...override,
  };
  const data = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET.name, namespace: SYSTEM_NAMESPACE }, type: 'Opaque', data } as KubeObjectInput, rootPem };
}

const trustBundle = async (m: MeridianProcess) => (await fetch(`http://${m.httpAddress}/trust-bundle`)).text();

/** A config per replica, each with its own ca.dir: nothing is shared but the API server. */
function replicaConfig(ws: Workspace, cluster: KubeTestCluster, name: string): string {
  ws.write('alpha.kubeconfig', cluster.api.kubeconfigYaml({ token: cluster.token }));
  return ws.writeConfig(
    {
      namespace: SYSTEM_NAMESPACE,
      clusters: [{ id: 'alpha', kubeconfig: './alpha.kubeconfig', primary: true }],
      ca: { dir: `./ca-${name}` },
    },
    `${name}.yaml`,
  );
}

describe('CA Secret shared by replicas', () => {
  const ws = new Workspace();
  let cluster: KubeTestCluster;
  let replicas: MeridianProcess[] = [];

  before(async () => {
    cluster = await startKubeCluster('alpha', 'r1');
    cluster.api.addToken('workload-token', { username: 'system:serviceaccount:demo:echo', audiences: ['istio-ca'] });
  });

  after(async () => {
    await Promise.all(replicas.map((m) => m.stop()));
    await cluster.api.close();
    ws.remove();
  });

  it('two replicas started together end up with one Secret and the same root; a restart reuses it', async () => {
    const configs = ['a', 'b'].map((n) => replicaConfig(ws, cluster, n));
    replicas = await Promise.all(configs.map((c) => MeridianProcess.start(['serve', '--config', c])));
    const [a, b] = replicas;
    assert.ok(a && b);

    const bundles = await Promise.all(replicas.map(trustBundle));
    assert.match(bundles[0] ?? '', /BEGIN CERTIFICATE/);
    assert.equal(bundles[0], bundles[1], 'both replicas serve the same root');

    const secrets = cluster.api.list('v1', 'Secret', SYSTEM_NAMESPACE).filter((s) => s.metadata?.name === SECRET.name);
    assert.equal(secrets.length, 1);
    const stored = secrets[0] as unknown as { type: string; metadata: { labels?: Record<string, string> }; data: Record<string, string> };
    assert.equal(stored.type, 'Opaque');
    assert.equal(stored.metadata.labels?.['app.kubernetes.io/name'], 'meridian');
    assert.deepEqual(Object.keys(stored.data).sort(), ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'jwt-signing-key.pem', 'root-cert.pem']);
    assert.equal(Buffer.from(stored.data['root-cert.pem'] ?? '', 'base64').toString(), bundles[0]);
    const creates = cluster.api.requests({ verb: 'create', resource: 'secrets' });
    assert.equal(creates.filter((r) => r.status === 201).length, 1, 'exactly one create succeeded');
    assert.equal(cluster.api.requests({ resource: 'secrets' }).filter((r) => r.verb === 'update' || r.verb === 'patch').length, 0, 'never updated');

    // The local issuer's key is shared too: a token minted with it is accepted by either replica.
    const jwtKey = createPrivateKey(Buffer.from(stored.data['jwt-signing-key.pem'] ?? '', 'base64').toString());
    const token = new LocalJwtIssuer({ key: jwtKey, issuer: 'https://meridian.local' }).mint({ namespace: 'demo', serviceAccount: 'echo' });
    for (const m of replicas) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const client = new CertificateClient({
        address: m.xdsTlsAddress,
        credentials: grpc.credentials.createSsl(Buffer.from(bundles[0] ?? '')),
        channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
      });
      try {
        const chain = await client.createCertificate({ csr: createCsr({ key: privateKey, uris: [workloadSpiffeId('cluster.local', 'demo', 'echo')] }).pem, token, validitySeconds: 3600 });
        assert.ok(chain.length >= 2);
      } finally {
        client.close();
      }
    }

    // Restart: the existing Secret is read, nothing is created.
    assert.equal(await a.stop(), 0);
    cluster.api.clearRequests();
    const again = await MeridianProcess.start(['serve', '--config', configs[0] ?? '']);
    replicas = [again, b];
    assert.equal(await trustBundle(again), bundles[0]);
    assert.equal(cluster.api.requests({ verb: 'create', resource: 'secrets' }).length, 0);
    assert.ok(again.logs.some((l) => l.msg === 'CA loaded' && String(l['how']).includes('existing')));
  });
});

describe('CA Secret that exists but is invalid', () => {
  it('refuses to start, naming the Secret and the key, and leaves the Secret alone', async () => {
    const ws = new Workspace();
    const cluster = await startKubeCluster('alpha', 'r1');
    try {
      const { secret } = await foreignCaSecret({ 'ca-key.pem': 'not a key' });
      cluster.api.upsert(secret);
      const before = cluster.api.get(SECRET);
      const run = await MeridianProcess.run(['serve', '--config', replicaConfig(ws, cluster, 'a')]);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stderr, /Secret meridian-system\/meridian-ca: key ca-key\.pem is not a readable unencrypted private key/);
      assert.equal(cluster.api.requests({ verb: 'create', resource: 'secrets' }).length, 0);
      assert.deepEqual(cluster.api.get(SECRET), before);

      const { secret: noRoot } = await foreignCaSecret();
      delete (noRoot as { data: Record<string, string> }).data['root-cert.pem'];
      cluster.api.upsert(noRoot);
      const run2 = await MeridianProcess.run(['serve', '--config', replicaConfig(ws, cluster, 'b')]);
      assert.equal(run2.code, 1);
      assert.match(run2.stderr, /Secret meridian-system\/meridian-ca: key root-cert\.pem is missing/);
    } finally {
      await cluster.api.close();
      ws.remove();
    }
  });
});

describe('CA Secret created by another replica between our read and our create', () => {
  it('adopts theirs (409 AlreadyExists) and never overwrites it', async () => {
    const ws = new Workspace();
    const cluster = await startKubeCluster('alpha', 'r1');
    let meridian: MeridianProcess | undefined;
    try {
      const release = cluster.api.holdRequests({ verb: 'create', resource: 'secrets' });
      const starting = MeridianProcess.start(['serve', '--config', replicaConfig(ws, cluster, 'a')]);
      await eventually('our read found no Secret', () =>
        cluster.api.requests({ verb: 'get', resource: 'secrets' }).some((r) => r.name === SECRET.name && r.status === 404) ? true : undefined,
      );
      const { secret, rootPem } = await foreignCaSecret();
      cluster.api.upsert(secret);
      const theirs = cluster.api.get(SECRET);
      release();
      meridian = await starting;

      assert.equal(await trustBundle(meridian), rootPem);
      assert.deepEqual(cluster.api.requests({ verb: 'create', resource: 'secrets' }).map((r) => r.status), [409]);
      assert.deepEqual(cluster.api.get(SECRET), theirs, 'their Secret is untouched');
      assert.ok(meridian.logs.some((l) => l.msg === 'another replica created the CA Secret first; using its root'));
    } finally {
      await meridian?.stop();
      await cluster.api.close();
      ws.remove();
    }
  });
});
