import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { createAuthority, type CaAuthority } from './authority.ts';
import { createIntermediate, createSelfSignedRoot } from './ca-certificates.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { CaKeyAlgorithm } from './key-algorithm.ts';
import { SvidSigner, TtlPolicy } from './signer.ts';
import { TestKey, makeCsr, openssl, opensslVerify, withTempDir } from './testing/index.ts';
import { x509 } from './x509.ts';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/default/sa/web`;
// Real time, whole seconds: openssl checks validity against the wall clock.
const NOW = Math.floor(Date.now() / 1000) * 1000;

async function rootAuthority(alg: CaKeyAlgorithm = CaKeyAlgorithm.EcdsaP256, validityDays?: number): Promise<CaAuthority> {
  const root = await createSelfSignedRoot({ trustDomain: TD, keyAlgorithm: alg, now: new Date(NOW), ...(validityDays === undefined ? {} : { validityDays }) });
  return createAuthority({ certDer: root.certDer, key: root.key, now: new Date(NOW) });
}

function rejectsWith(code: CaErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof CaError, `expected CaError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('SvidSigner', () => {
  let authority: CaAuthority;
  before(async () => {
    authority = await rootAuthority();
  });

  it('issues an SVID with every field the SPIFFE spec and DESIGN §5 require', async () => {
    const signer = new SvidSigner({ trustDomain: TD, authority, clock: () => NOW });
    const csr = await makeCsr({ uris: [ID], subject: 'CN=ignored' });
    const out = await signer.sign({ csr: csr.pem, ttlSeconds: 3600 });
    assert.equal(out.certChainPem.length, 2);
    assert.equal(out.id.uri, ID);
    assert.equal(out.id.namespace, 'default');
    assert.equal(out.id.serviceAccount, 'web');

    const leaf = new x509.X509Certificate(out.certChainPem[0] ?? '');
    assert.equal(leaf.subject, '', 'subject is empty');
    assert.equal(leaf.issuer, new x509.X509Certificate(authority.certDer).subject);
    assert.equal(leaf.notBefore.getTime(), NOW - 300_000, 'backdated 5 min');
    assert.equal(leaf.notAfter.getTime(), NOW + 3_600_000);
    const serial = Buffer.from(leaf.serialNumber, 'hex');
    assert.ok(serial.length >= 16 && serial.length <= 17, `serial ${leaf.serialNumber}`);
    assert.ok(BigInt(`0x${leaf.serialNumber}`) > 0n);
    assert.equal(leaf.serialNumber.replace(/^00/, ''), out.serialHex);

    const bc = leaf.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc);
    assert.equal(bc.ca, false);
    assert.equal(bc.critical, true);
    const ku = leaf.getExtension(x509.KeyUsagesExtension);
    assert.ok(ku);
    assert.equal(ku.critical, true);
    assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature);
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
    assert.ok(eku);
    assert.deepEqual([...eku.usages].sort(), [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth].sort());
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    assert.ok(san);
    assert.equal(san.critical, true, 'SAN critical because subject is empty');
    assert.deepEqual(san.names.toJSON(), [{ type: 'url', value: ID }]);
    const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension);
    assert.equal(aki?.keyId, Buffer.from(authority.subjectKeyId).toString('hex'));
    assert.ok(await leaf.verify({ publicKey: await new x509.X509Certificate(authority.certDer).publicKey.export(), signatureOnly: true }));
    assert.deepEqual(Buffer.from(leaf.publicKey.rawData), Buffer.from(createPublicKey(csr.key).export({ type: 'spki', format: 'der' })));

    const node = new X509Certificate(out.certChainPem[0] ?? '');
    assert.equal(node.ca, false);
    assert.equal(node.subjectAltName, `URI:${ID}`);
    assert.deepEqual([...(node.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(node.verify(authority.cert.publicKey));
    assert.ok(node.checkIssued(authority.cert));
    assert.deepEqual(node.raw, out.leafDer);
    assert.deepEqual(signer.stats(), { issued: 1, failed: {} });
  });

  it('passes openssl verify for client and server purposes, and openssl parses every field', async () => {
    const signer = new SvidSigner({ trustDomain: TD, authority });
    const out = await signer.sign({ csr: (await makeCsr({ uris: [ID] })).der });
    await withTempDir(async (dir) => {
      for (const purpose of ['sslclient', 'sslserver'] as const) {
        const r = await opensslVerify(dir, out.certChainPem, purpose);
        assert.ok(r.ok, r.output);
      }
      const file = path.join(dir, 'leaf.pem');
      await writeFile(file, out.certChainPem[0] ?? '');
      const text = (await openssl(['x509', '-noout', '-text', '-in', file])).stdout;
      assert.match(text, /Version: 3 \(0x2\)/);
      assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
      assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(text, new RegExp(`X509v3 Subject Alternative Name: critical\\s+URI:${ID.replace(/\//g, '\\/')}`));
      assert.match(text, /X509v3 Authority Key Identifier:/);
      assert.match(text, /Subject: \n|Subject:\s*\n/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    });
  });

  for (const key of [TestKey.P384, TestKey.Rsa2048, TestKey.Rsa3072] as const) {
    it(`accepts a ${key} CSR`, async () => {
      const signer = new SvidSigner({ trustDomain: TD, authority });
      const out = await signer.sign({ csr: (await makeCsr({ key, uris: [ID] })).pem });
      const ku = new x509.X509Certificate(out.leafDer).getExtension(x509.KeyUsagesExtension);
      const rsa = key.startsWith('rsa');
      assert.equal(ku?.usages, rsa ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature);
      await withTempDir(async (dir) => assert.ok((await opensslVerify(dir, out.certChainPem, 'sslserver')).ok));
    });
  }

  for (const alg of [CaKeyAlgorithm.EcdsaP384, CaKeyAlgorithm.Rsa2048] as const) {
    it(`signs with a ${alg} CA`, async () => {
      const signer = new SvidSigner({ trustDomain: TD, authority: await rootAuthority(alg) });
      const out = await signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem });
      await withTempDir(async (dir) => {
        const r = await opensslVerify(dir, out.certChainPem, 'sslclient');
        assert.ok(r.ok, r.output);
      });
    });
  }

  it('returns leaf, intermediate, root when signing with an intermediate', async () => {
    const inter = await createIntermediate({ parent: authority, clusterId: 'east', trustDomain: TD, now: new Date(NOW) });
    const interAuthority = createAuthority({ certDer: inter.certDer, key: inter.key, chainDer: [authority.certDer], rootsDer: authority.rootsDer, now: new Date(NOW) });
    const signer = new SvidSigner({ trustDomain: TD, authority: interAuthority });
    const out = await signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem });
    assert.equal(out.certChainPem.length, 3);
    assert.equal(new X509Certificate(out.certChainPem[1] ?? '').fingerprint256, new X509Certificate(inter.certDer).fingerprint256);
    assert.equal(new X509Certificate(out.certChainPem[2] ?? '').fingerprint256, authority.cert.fingerprint256);
    await withTempDir(async (dir) => {
      for (const purpose of ['sslclient', 'sslserver'] as const) {
        const r = await opensslVerify(dir, out.certChainPem, purpose);
        assert.ok(r.ok, r.output);
      }
    });
  });

  describe('lifetime', () => {
    it('defaults to 24 h', async () => {
      const out = await new SvidSigner({ trustDomain: TD, authority, clock: () => NOW }).sign({ csr: (await makeCsr({ uris: [ID] })).pem });
      assert.equal(out.notAfter.getTime() - NOW, 24 * 3600 * 1000);
    });

    it('caps a TTL above the maximum under the default policy', async () => {
      const signer = new SvidSigner({ trustDomain: TD, authority, clock: () => NOW, maxTtlSeconds: 7200 });
      const out = await signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem, ttlSeconds: 100 * 3600 });
      assert.equal(out.notAfter.getTime() - NOW, 7200 * 1000);
    });

    it('rejects a TTL above the maximum under the reject policy, and a negative one always', async () => {
      const signer = new SvidSigner({ trustDomain: TD, authority, maxTtlSeconds: 7200, ttlPolicy: TtlPolicy.Reject });
      const csr = (await makeCsr({ uris: [ID] })).pem;
      await assert.rejects(signer.sign({ csr, ttlSeconds: 7201 }), rejectsWith(CaErrorCode.Ttl));
      await assert.rejects(signer.sign({ csr, ttlSeconds: -5 }), rejectsWith(CaErrorCode.Ttl));
      await assert.rejects(signer.sign({ csr, ttlSeconds: Number.NaN }), rejectsWith(CaErrorCode.Ttl));
      assert.deepEqual(signer.stats(), { issued: 0, failed: { CA_ERR_TTL: 3 } });
    });

    it("never outlives the signing certificate", async () => {
      const shortRoot = await rootAuthority(CaKeyAlgorithm.EcdsaP256, 1);
      const signer = new SvidSigner({ trustDomain: TD, authority: shortRoot, clock: () => NOW });
      const out = await signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem, ttlSeconds: 48 * 3600 });
      assert.ok(out.notAfter.getTime() <= shortRoot.notAfter.getTime());
      assert.equal(new X509Certificate(out.leafDer).validTo, shortRoot.cert.validTo);
    });

    it('refuses to sign once the CA has expired', async () => {
      const signer = new SvidSigner({ trustDomain: TD, authority, clock: () => authority.notAfter.getTime() + 1000 });
      await assert.rejects(signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem }), rejectsWith(CaErrorCode.CaExpired));
    });
  });

  describe('rejects, issuing nothing', () => {
    const cases: Array<{ name: string; code: CaErrorCode; csr: () => Promise<string | Uint8Array> }> = [
      { name: 'two URI SANs', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [ID, `spiffe://${TD}/ns/default/sa/other`] })).pem },
      { name: 'DNS SAN only', code: CaErrorCode.San, csr: async () => (await makeCsr({ dns: ['web.default.svc'] })).pem },
      { name: 'URI plus DNS SAN', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [ID], dns: ['web.default.svc'] })).pem },
      { name: 'no SAN at all', code: CaErrorCode.San, csr: async () => (await makeCsr({ subject: 'CN=web' })).pem },
      { name: 'another trust domain', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: ['spiffe://evil.example/ns/default/sa/web'] })).pem },
      { name: 'uppercase trust domain', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: ['spiffe://Cluster.local/ns/default/sa/web'] })).pem },
      { name: 'dot segment', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [`spiffe://${TD}/ns/../sa/web`] })).pem },
      { name: 'empty segment', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [`spiffe://${TD}/ns//sa/web`] })).pem },
      { name: 'query', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [`${ID}?x=1`] })).pem },
      { name: 'port', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [`spiffe://${TD}:443/ns/default/sa/web`] })).pem },
      { name: 'not the ns/sa shape', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [`spiffe://${TD}/workload/web`] })).pem },
      { name: 'https scheme', code: CaErrorCode.San, csr: async () => (await makeCsr({ uris: [`https://${TD}/ns/default/sa/web`] })).pem },
      { name: 'garbage bytes', code: CaErrorCode.CsrInvalid, csr: async () => Buffer.from('definitely not a CSR') },
      { name: 'garbage DER', code: CaErrorCode.CsrInvalid, csr: async () => Buffer.from([0x30, 0x82, 0xff, 0xff, 0x01]) },
      { name: 'truncated CSR', code: CaErrorCode.CsrInvalid, csr: async () => (await makeCsr({ uris: [ID] })).der.subarray(0, 100) },
      { name: 'P-521 key', code: CaErrorCode.KeyUnsupported, csr: async () => (await makeCsr({ key: TestKey.P521, uris: [ID] })).pem },
      { name: 'RSA-1024 key', code: CaErrorCode.KeyUnsupported, csr: async () => (await makeCsr({ key: TestKey.Rsa1024, uris: [ID] })).pem },
      {
        name: 'tampered signature',
        code: CaErrorCode.CsrSignature,
        csr: async () => {
          const der = Buffer.from((await makeCsr({ uris: [ID] })).der);
          der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0x01;
          return der;
        },
      },
      {
        name: 'tampered request body (SAN swapped after signing)',
        code: CaErrorCode.CsrSignature,
        csr: async () => {
          const der = Buffer.from((await makeCsr({ uris: [`spiffe://${TD}/ns/default/sa/aaa`] })).der);
          const at = der.indexOf('sa/aaa');
          der.write('sa/bbb', at, 'latin1');
          return der;
        },
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const signer = new SvidSigner({ trustDomain: TD, authority });
        await assert.rejects(signer.sign({ csr: await c.csr() }), rejectsWith(c.code));
        assert.equal(signer.stats().issued, 0);
      });
    }

    it('CA_ERR_NOT_READY before signing material is set', async () => {
      const signer = new SvidSigner({ trustDomain: TD });
      await assert.rejects(signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem }), rejectsWith(CaErrorCode.NotReady));
      signer.setAuthority(authority);
      assert.equal((await signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem })).id.uri, ID);
    });
  });

  it('offloaded crypto gives the same kind of certificate', async () => {
    const signer = new SvidSigner({ trustDomain: TD, authority, offloadCrypto: true });
    const out = await Promise.all([1, 2, 3].map(async () => signer.sign({ csr: (await makeCsr({ uris: [ID] })).pem })));
    for (const o of out) assert.ok(new X509Certificate(o.leafDer).verify(authority.cert.publicKey));
    const bad = Buffer.from((await makeCsr({ uris: [ID] })).der);
    bad[bad.length - 5] = (bad[bad.length - 5] ?? 0) ^ 0x01;
    await assert.rejects(signer.sign({ csr: bad }), rejectsWith(CaErrorCode.CsrSignature));
  });

  it('issues a serving certificate with DNS names for Meridian itself', async () => {
    const signer = new SvidSigner({ trustDomain: TD, authority });
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const out = await signer.signServingCertificate({ publicKey, dnsNames: ['meridian.meridian-system.svc'], spiffeId: `spiffe://${TD}/ns/meridian-system/sa/meridian` });
    const node = new X509Certificate(out.leafDer);
    assert.equal(node.subjectAltName, `DNS:meridian.meridian-system.svc, URI:spiffe://${TD}/ns/meridian-system/sa/meridian`);
    assert.ok(node.checkHost('meridian.meridian-system.svc'));
    await withTempDir(async (dir) => assert.ok((await opensslVerify(dir, out.certChainPem, 'sslserver')).ok));
  });
});
