import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { grpcMetadata } from '../testing/index.ts';
import { withTempDir } from '../testing/index.ts';
import { JwtAuthenticator } from './jwt-authenticator.ts';
import { LOCAL_JWT_KEY_FILE, LocalJwtIssuer } from './local-jwt-issuer.ts';
import { AuthMethod } from './types.ts';

const ISSUER = 'https://meridian.test';
const NOW = Date.parse('2026-11-20T12:00:00Z');
const clock = (): number => NOW;

function issuer(): LocalJwtIssuer {
  return new LocalJwtIssuer({ key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, issuer: ISSUER, clock });
}

function authn(i: LocalJwtIssuer, extra: { clockSkewSeconds?: number; at?: number } = {}): JwtAuthenticator {
  return new JwtAuthenticator({
    issuers: [i.issuerConfig()],
    clock: () => extra.at ?? NOW,
    ...(extra.clockSkewSeconds === undefined ? {} : { clockSkewSeconds: extra.clockSkewSeconds }),
  });
}

/** A JWT signed with any key and algorithm, for shapes LocalJwtIssuer never mints. */
function handMade(key: KeyObject, alg: 'ES256' | 'RS256', claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg, typ: 'JWT', ...header })}.${enc(claims)}`;
  const sig = alg === 'ES256' ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}

const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: ISSUER,
  aud: ['istio-ca'],
  exp: NOW / 1000 + 600,
  sub: 'system:serviceaccount:shop:cart',
  ...over,
});

describe('JwtAuthenticator', () => {
  it('accepts a LocalJwtIssuer token and names its service account', async () => {
    const i = issuer();
    const r = await authn(i).authenticate({ metadata: grpcMetadata({ authorization: `Bearer ${i.mint({ namespace: 'shop', serviceAccount: 'cart' })}` }) });
    assert.deepEqual(r, { ok: true, identity: { namespace: 'shop', serviceAccount: 'cart', via: AuthMethod.Jwt } });
  });

  it('refuses expired, not-yet-valid, wrong-audience and foreign-issuer tokens', () => {
    const i = issuer();
    const a = authn(i, { clockSkewSeconds: 30 });
    const token = i.mint({ namespace: 'shop', serviceAccount: 'cart', ttlSeconds: 60 });
    assert.equal(authn(i, { at: NOW + 61_000 }).verify(token).ok, true, 'within the skew');
    const late = authn(i, { at: NOW + 60_000 + 61_000 }).verify(token);
    assert.ok(!late.ok && late.code === 'UNAUTHENTICATED' && /expired/.test(late.reason));
    const early = authn(i, { at: NOW - 120_000 }).verify(token);
    assert.ok(!early.ok && /not valid yet|future/.test(early.reason));
    const aud = a.verify(i.mint({ namespace: 'shop', serviceAccount: 'cart', audience: 'something-else' }));
    assert.ok(!aud.ok && /audiences/.test(aud.reason));
    const other = new LocalJwtIssuer({ key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, issuer: 'https://elsewhere', clock });
    const foreign = a.verify(other.mint({ namespace: 'shop', serviceAccount: 'cart' }));
    assert.ok(!foreign.ok && /not configured/.test(foreign.reason));
  });

  it('refuses a token signed by another key under our issuer name, and a tampered payload', () => {
    const ours = issuer();
    const impostor = new LocalJwtIssuer({ key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, issuer: ISSUER, clock });
    const r = authn(ours).verify(impostor.mint({ namespace: 'shop', serviceAccount: 'cart' }));
    assert.ok(!r.ok && /signature/.test(r.reason));
    const [h, , s] = ours.mint({ namespace: 'shop', serviceAccount: 'cart' }).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify(claims({ sub: 'system:serviceaccount:kube-system:admin' }))).toString('base64url')}.${s}`;
    assert.equal(authn(ours).verify(forged).ok, false);
  });

  it('refuses alg none and HS256, whatever the signature', () => {
    const i = issuer();
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const alg of ['none', 'HS256']) {
      const r = authn(i).verify(`${enc({ alg })}.${enc(claims())}.${alg === 'none' ? '' : 'c2ln'}`);
      assert.ok(!r.ok && /algorithm/.test(r.reason), alg);
    }
  });

  it('verifies RS256 against an RSA JWKS and reads the kubernetes.io claim shape', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' };
    const a = new JwtAuthenticator({ issuers: [{ issuer: ISSUER, jwks: { keys: [jwk] }, cluster: 'vm-group' }], clock });
    const token = handMade(privateKey, 'RS256', claims({ sub: undefined, 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart', uid: 'u' } } }), { kid: 'k1' });
    assert.deepEqual(a.verify(token), { ok: true, identity: { namespace: 'shop', serviceAccount: 'cart', cluster: 'vm-group', via: AuthMethod.Jwt } });
    const wrongKid = handMade(privateKey, 'RS256', claims(), { kid: 'k2' });
    assert.equal(a.verify(wrongKid).ok, false);
  });

  it('denies tokens that name no service account, or two different ones', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const a = new JwtAuthenticator({ issuers: [{ issuer: ISSUER, jwks: { keys: [publicKey.export({ format: 'jwk' })] } }], clock });
    const user = a.verify(handMade(privateKey, 'ES256', claims({ sub: 'alice@example.com' })));
    assert.ok(!user.ok && user.code === 'PERMISSION_DENIED');
    const both = a.verify(handMade(privateKey, 'ES256', claims({ 'kubernetes.io': { namespace: 'other', serviceaccount: { name: 'cart' } } })));
    assert.ok(!both.ok && /different/.test(both.reason));
  });

  it('rejects an unusable JWKS at construction', () => {
    assert.throws(() => new JwtAuthenticator({ issuers: [{ issuer: ISSUER, jwks: { keys: [] } }] }), /CA_ERR_CONFIG|no usable/);
    assert.throws(() => new JwtAuthenticator({ issuers: [{ issuer: ISSUER, jwks: 'nope' }] }), /keys/);
  });

  it('says "no bearer token" without one', async () => {
    const r = await authn(issuer()).authenticate({ metadata: grpcMetadata({}) });
    assert.ok(!r.ok && r.reason === 'no bearer token');
  });
});

describe('LocalJwtIssuer.loadOrCreate', () => {
  it('creates the key once (0600), and later and concurrent starts load the same one', async () => {
    await withTempDir(async (dir) => {
      const starts = await Promise.all([1, 2, 3, 4].map(() => LocalJwtIssuer.loadOrCreate({ dir, issuer: ISSUER, clock })));
      const kids = new Set(starts.map((s) => s.jwks().keys[0]?.kid));
      assert.equal(kids.size, 1);
      const again = await LocalJwtIssuer.loadOrCreate({ dir, issuer: ISSUER, clock });
      assert.deepEqual(again.jwks(), starts[0]?.jwks());
      assert.equal((await stat(path.join(dir, LOCAL_JWT_KEY_FILE))).mode & 0o777, 0o600);
      // A token from one start verifies with the JWKS of another: what restarts and replicas rely on.
      const first = starts[0];
      assert.ok(first);
      assert.equal(authn(again).verify(first.mint({ namespace: 'shop', serviceAccount: 'cart' })).ok, true);
    });
  });

  it('leaves no temporary file behind when the key cannot be written (disk full)', async () => {
    // A file size limit of 0 makes every write to a regular file fail (EFBIG) as a full disk
    // would (ENOSPC); it applies to the child only, whose output goes through pipes.
    await withTempDir(async (dir) => {
      const module = pathToFileURL(path.join(import.meta.dirname, 'local-jwt-issuer.ts')).href;
      const script = `const { LocalJwtIssuer } = await import(${JSON.stringify(module)});
        await LocalJwtIssuer.loadOrCreate({ dir: ${JSON.stringify(dir)}, issuer: 'x' }).then(
          () => console.log('created'), (err) => console.log(err.code, err.cause?.code));`;
      const run = spawnSync('prlimit', ['--fsize=0', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
      assert.equal(run.error, undefined, 'prlimit (util-linux) runs');
      assert.match(run.stdout, /CA_ERR_\w+ EFBIG/, run.stderr);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it('refuses invalid mint requests', () => {
    const i = issuer();
    assert.throws(() => i.mint({ namespace: 'shop', serviceAccount: 'a:b' }), RangeError);
    assert.throws(() => i.mint({ namespace: 'shop', serviceAccount: 'cart', ttlSeconds: 0 }), RangeError);
  });
});
