import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { KeyKind, parseCsr } from './csr.ts';
import { verifyCsrSignature } from './csr-verify.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { TestKey, makeCsr } from './test-support.ts';
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
        assert.deepEqual(Buffer.from(p.info), Buffer.from(ref.tbs));
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
