import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSelfSignedRoot } from './ca-certificates.ts';
import { CaKeyAlgorithm } from './key-algorithm.ts';
import { spiffeBundle, trustBundlePem } from './trust-bundle.ts';

describe('trust bundle', () => {
  it('lists roots as PEM and as a SPIFFE bundle (JWKS, use x509-svid)', async () => {
    const ec = await createSelfSignedRoot({ trustDomain: 'td' });
    const rsa = await createSelfSignedRoot({ trustDomain: 'td', keyAlgorithm: CaKeyAlgorithm.Rsa2048 });
    const pems = trustBundlePem([ec.certDer, rsa.certDer]);
    assert.equal(new X509Certificate(pems[0] ?? '').fingerprint256, new X509Certificate(ec.certDer).fingerprint256);

    const bundle = spiffeBundle({ rootsDer: [ec.certDer, rsa.certDer], refreshHintSeconds: 300, sequence: 7 });
    assert.equal(bundle.spiffe_refresh_hint, 300);
    assert.equal(bundle.spiffe_sequence, 7);
    const [k1, k2] = bundle.keys;
    assert.ok(k1 && k2);
    assert.equal(k1.use, 'x509-svid');
    assert.equal(k1.kty, 'EC');
    assert.equal(k1.crv, 'P-256');
    assert.ok(k1.x && k1.y);
    assert.equal(k1.n, undefined);
    assert.deepEqual(Buffer.from(k1.x5c[0], 'base64'), ec.certDer);
    assert.equal(k2.kty, 'RSA');
    assert.ok(k2.n && k2.e);
    assert.equal(k2.crv, undefined);
    // Round-trips as JSON with nothing undefined left in it.
    assert.deepEqual(JSON.parse(JSON.stringify(bundle)), bundle);
  });
});
