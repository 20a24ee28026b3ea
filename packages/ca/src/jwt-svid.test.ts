import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { JwtSvidSigner } from './jwt-svid.ts';

describe('JwtSvidSigner', () => {
  it('derives one key from one CA key, whatever its type, and another from another', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.equal(JwtSvidSigner.fromCaKey(ec).bundleKey.kid, JwtSvidSigner.fromCaKey(ec).bundleKey.kid, 'replicas with the same CA agree');
    assert.notEqual(JwtSvidSigner.fromCaKey(ec).bundleKey.kid, JwtSvidSigner.fromCaKey(rsa).bundleKey.kid);
    assert.notEqual(JwtSvidSigner.fromCaKey(ec).bundleKey.x, createPublicKey(ec).export({ format: 'jwk' }).x, 'not the CA key itself');
  });

  it('mints what the spec asks: ES256 with the kid, sub, aud, exp; the bundle key verifies it', () => {
    const signer = JwtSvidSigner.fromCaKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, () => 1_700_000_000_000);
    const svid = signer.mint('spiffe://example.org/ns/a/sa/b', ['x'], 120);
    const [h = '', p = '', s = ''] = svid.token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'ES256', kid: signer.bundleKey.kid, typ: 'JWT' });
    assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url').toString()), { iss: 'spiffe://example.org', sub: 'spiffe://example.org/ns/a/sa/b', aud: 'x', iat: 1_700_000_000, exp: 1_700_000_120 });
    const { use: _use, kid: _kid, ...jwk } = signer.bundleKey;
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
    assert.throws(() => signer.mint('spiffe://example.org/ns/a/sa/b', []), /at least one audience/);
  });
});
