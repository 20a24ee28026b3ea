/**
 * Root rotation of a plugged-in CA, Istio's way, against the real `meridian serve`: the cacerts
 * directory is a Kubernetes Secret volume (files are symlinks through `..data`, swapped
 * atomically), root-cert.pem holds old and new roots during the overlap while the signing
 * material already moved to the new root, then the old root is dropped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  CacertsFile,
  CertificateClient,
  certToPem,
  createAuthority,
  createCsr,
  createIntermediate,
  createSelfSignedRoot,
  writeCacertsAtomically,
  type CaAuthority,
  type CaCertificate,
} from '@meridian/ca';
import { eventually } from '../support/eventually.ts';
import { issueSvidWithCli } from '../support/cli-svid.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const TD = 'cluster.local';

interface CaView {
  roots: Array<{ fingerprint256: string }>;
  signing: { subject: string; fingerprint256: string };
  serving: { notBefore: string };
}

function fingerprints(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).fingerprint256);
}

async function rootAuthority(name: string): Promise<CaAuthority> {
  const root = await createSelfSignedRoot({ trustDomain: TD, commonName: name });
  return createAuthority({ certDer: root.certDer, key: root.key });
}

/** `openssl verify` of a chain file's leaf, with the rest of the chain untrusted. */
function opensslVerifies(ws: Workspace, chainFile: string, caFile: string): boolean {
  const [leaf] = readFileSync(chainFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
  if (leaf === undefined) throw new Error(`${chainFile} holds no certificate`);
  const leafFile = ws.write(`${path.basename(path.dirname(chainFile))}-leaf.pem`, leaf);
  try {
    const out = execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', caFile, '-untrusted', chainFile, leafFile], { encoding: 'utf8', stdio: 'pipe' });
    return /: OK/.test(out);
  } catch {
    return false;
  }
}

/** The leaf certificate the TLS port (15012) serves right now. */
function servingLeaf(address: string): Promise<X509Certificate> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)), servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.on('error', reject);
  });
}

describe('CA: root rotation of a plugged-in CA (Istio cacerts, Secret volume layout)', () => {
  const ws = new Workspace();
  const cacerts = ws.path('cacerts');
  let meridian: MeridianProcess;
  let config = '';
  let rootA: CaAuthority;
  let rootB: CaAuthority;
  let intB: CaCertificate;
  let version = 0;
  const rootAFile = ws.path('root-a.pem');
  const rootBFile = ws.path('root-b.pem');

  /** What kubelet does on a Secret update: a new timestamped dir, then `..data` swapped in one rename. */
  async function publish(signing: CaCertificate, parent: CaAuthority, roots: CaAuthority[]): Promise<void> {
    const dir = `..v${++version}`;
    const written = await writeCacertsAtomically(path.join(cacerts, dir), {
      certDer: signing.certDer,
      key: signing.key,
      chainDer: [parent.certDer],
      rootsDer: roots.map((r) => r.certDer),
    });
    assert.ok(written);
    symlinkSync(dir, path.join(cacerts, '..data_tmp'));
    renameSync(path.join(cacerts, '..data_tmp'), path.join(cacerts, '..data'));
  }

  const ca = async () => (await meridian.getJson<CaView>('/debug/ca')).body;
  const trustBundle = async () => (await fetch(`http://${meridian.httpAddress}/trust-bundle`)).text();
  const svid = (name: string, rootCert: string) => issueSvidWithCli({ meridian, config, rootCert, out: ws.path(name) });
  /** Renewal the way an agent does it: the SVID it holds as client certificate, no token. */
  const renewWith = async (chainFile: string, keyFile: string, rootCert: string) => {
    const client = new CertificateClient({
      address: meridian.xdsTlsAddress,
      credentials: grpc.credentials.createSsl(readFileSync(rootCert), readFileSync(keyFile), readFileSync(chainFile)),
      channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
    });
    try {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return await client.createCertificate({ csr: createCsr({ key: privateKey, uris: [`spiffe://${TD}/ns/demo/sa/echo`] }).pem });
    } finally {
      client.close();
    }
  };

  before(async () => {
    rootA = await rootAuthority('Root A');
    rootB = await rootAuthority('Root B');
    ws.write('root-a.pem', certToPem(rootA.certDer));
    ws.write('root-b.pem', certToPem(rootB.certDer));
    const intA = await createIntermediate({ parent: rootA, clusterId: 'c1', trustDomain: TD });
    intB = await createIntermediate({ parent: rootB, clusterId: 'c1', trustDomain: TD });

    mkdirSync(cacerts);
    await publish(intA, rootA, [rootA]);
    for (const f of Object.values(CacertsFile)) symlinkSync(path.join('..data', f), path.join(cacerts, f));
    mkdirSync(ws.path('c1'));
    config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], ca: { dir: './ca', cacerts: './cacerts' } });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    await meridian.stop();
    ws.remove();
  });

  it('rotates from root A to root B with an overlap, SVIDs and the serving certificate following', async () => {
    // Before: A only.
    assert.deepEqual(fingerprints(await trustBundle()), [rootA.cert.fingerprint256]);
    const old = await svid('svid-old', rootAFile);
    assert.equal(old.code, 0, old.stderr);
    assert.ok(opensslVerifies(ws, old.chainFile, rootAFile));
    const servingBefore = (await ca()).serving.notBefore;

    // Overlap: signing material under B, root-cert.pem = B + A.
    await publish(intB, rootB, [rootB, rootA]);
    const overlap = await eventually('the bundle holds B and A', async () => {
      const pem = await trustBundle();
      return fingerprints(pem).length === 2 ? pem : undefined;
    });
    assert.deepEqual(new Set(fingerprints(overlap)), new Set([rootA.cert.fingerprint256, rootB.cert.fingerprint256]));
    const bundleFile = ws.write('bundle-overlap.pem', overlap);
    assert.equal((await ca()).signing.fingerprint256, new X509Certificate(intB.certDer).fingerprint256);

    // The serving certificate was renewed under B: a client that trusts only B gets through.
    await eventually('serving certificate renewed', async () => ((await ca()).serving.notBefore !== servingBefore ? true : undefined));
    const leaf = await servingLeaf(meridian.xdsTlsAddress);
    assert.ok(leaf.checkIssued(new X509Certificate(intB.certDer)), `serving cert issued by ${leaf.issuer}`);
    const fresh = await svid('svid-new', rootBFile);
    assert.equal(fresh.code, 0, fresh.stderr);

    // New SVIDs chain to B (and not to A); old ones still verify against the published bundle.
    assert.ok(opensslVerifies(ws, fresh.chainFile, rootBFile), 'new SVID verifies with root B only');
    assert.equal(opensslVerifies(ws, fresh.chainFile, rootAFile), false, 'new SVID does not chain to A');
    assert.ok(opensslVerifies(ws, old.chainFile, bundleFile), 'old SVID verifies against the overlap bundle');
    assert.equal(opensslVerifies(ws, old.chainFile, rootBFile), false);

    // A workload holding the old SVID renews by certificate during the overlap and moves to B.
    const renewed = await renewWith(old.chainFile, old.keyFile, bundleFile);
    const renewedFile = ws.write('renewed-chain.pem', renewed.join(''));
    assert.ok(opensslVerifies(ws, renewedFile, rootBFile), 'the renewed SVID chains to B');

    // After the overlap: A removed.
    await publish(intB, rootB, [rootB]);
    await eventually('the bundle holds B only', async () => (fingerprints(await trustBundle()).length === 1 ? true : undefined));
    assert.deepEqual(fingerprints(await trustBundle()), [rootB.cert.fingerprint256]);
    assert.deepEqual((await ca()).roots.map((r) => r.fingerprint256), [rootB.cert.fingerprint256]);
    assert.equal(opensslVerifies(ws, old.chainFile, ws.write('bundle-after.pem', await trustBundle())), false, 'old SVIDs are no longer trusted');
    await assert.rejects(renewWith(old.chainFile, old.keyFile, rootBFile), /UNAUTHENTICATED/, 'an SVID under A no longer renews');
    const after = await svid('svid-after', rootBFile);
    assert.equal(after.code, 0, after.stderr);
    assert.ok(opensslVerifies(ws, after.chainFile, rootBFile));
    assert.equal(meridian.logs.filter((l) => l.msg === 'plugged-in CA failed to reload; keeping the current one').length, 0, 'every swap loaded cleanly');
  });
});
