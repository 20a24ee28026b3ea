import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { KeyKind, parseCsr } from './csr.ts';
import { verifyCsrSignature } from './csr-verify.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { TestKey, makeCsr } from './testing/index.ts';
import { x509 } from './x509.ts';

describe('parseCsr (hot-path parser) agrees with @peculiar/x509', () => {
  for (const key of [TestKey.P256, TestKey.P384, TestKey.Rsa2048] as const) {
    it(`${key}: same key, SANs and signed bytes`, async () => {
      const csr = await makeCsr({ key, uris: ['spiffe://td/ns/a/sa/b'], subject: 'CN=x, O=y' });
      for (const input of [csr.pem, csr.der, Buffer.from(csr.pem)]) {
        const p = parseCsr(input);
        const ref = new x509.Pkcs10CertificateRequest(csr.der);
        assert.deepEqual(Buffer.from(p.spki), Buffer.from(ref.publicKey.rawData));
        assert.deepEqual(Buffer.from(p.spki), createPublicKey(csr.key).export({ type: 'spki', format: 'der' }));
        // The signed bytes are the first element right after the outer SEQUENCE header.
        const at = csr.der.indexOf(Buffer.from(p.info));
        assert.ok(at >= 2 && at <= 4 && p.info[0] === 0x30, `info at ${at}`);
        assert.deepEqual(Buffer.from(p.signature), Buffer.from(ref.signature));
        assert.deepEqual(p.uriSans, ['spiffe://td/ns/a/sa/b']);
        assert.equal(p.otherSans, 0);
        assert.equal(p.keyKind, key === TestKey.P256 ? KeyKind.EcP256 : key === TestKey.P384 ? KeyKind.EcP384 : KeyKind.Rsa);
        if (key === TestKey.Rsa2048) assert.equal(p.rsaBits, 2048);
        await verifyCsrSignature(p);
        await verifyCsrSignature(p, { offload: true });
      }
    });
  }

  it('counts non-URI names', async () => {
    const p = parseCsr((await makeCsr({ uris: ['spiffe://td/ns/a/sa/b'], dns: ['a.b', 'c.d'] })).der);
    assert.equal(p.otherSans, 2);
  });

  it('rejects trailing bytes, wrong versions and non-minimal lengths with CA_ERR_CSR_INVALID', async () => {
    const der = (await makeCsr({ uris: ['spiffe://td/ns/a/sa/b'] })).der;
    const bad = [
      Buffer.concat([der, Buffer.from([0])]),
      Buffer.from([0x30, 0x81, 0x03, 0x02, 0x01, 0x00]),
      Buffer.from([0x30, 0x80, 0x00, 0x00]),
      Buffer.alloc(0),
      Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----'),
    ];
    for (const b of bad) {
      assert.throws(() => parseCsr(b), (err: unknown) => err instanceof CaError && err.code === CaErrorCode.CsrInvalid, b.toString('hex').slice(0, 20));
    }
  });
});

describe('createCsr', () => {
  it('makes requests that @peculiar/x509 and openssl accept and the signer signs', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { createCsr } = await import('./csr-builder.ts');
    const { openssl, withTempDir } = await import('./testing/index.ts');
    for (const key of [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    ]) {
      const csr = createCsr({ key, uris: ['spiffe://td/ns/a/sa/b'] });
      const ref = new x509.Pkcs10CertificateRequest(csr.der);
      assert.equal(await ref.verify(), true);
      const sanExt = ref.extensions.find((e) => e.type === '2.5.29.17');
      assert.ok(sanExt);
      assert.deepEqual(new x509.SubjectAlternativeNameExtension(sanExt.rawData).names.toJSON(), [{ type: 'url', value: 'spiffe://td/ns/a/sa/b' }]);
      await withTempDir(async (dir) => {
        const { writeFile } = await import('node:fs/promises');
        await writeFile(`${dir}/req.pem`, csr.pem);
        const r = await openssl(['req', '-verify', '-noout', '-in', `${dir}/req.pem`]);
        assert.equal(r.code, 0, r.stderr);
      });
      await verifyCsrSignature(parseCsr(csr.pem));
    }
  });
});
