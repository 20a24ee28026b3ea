/**
 * JWT-SVIDs (https://github.com/spiffe/spiffe/blob/main/standards/JWT-SVID.md) from the real
 * `meridian serve`: minted for the identity a token proves, verified by an independent JWT
 * library (jose) with the keys of the published SPIFFE bundle; refused without credentials
 * or without an audience, with the gRPC status saying why.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { jwtSvidServiceDefinition, type FetchJwtSvidRequestMessage, type FetchJwtSvidResponseMessage } from '@meridian/ca';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

interface BundleKey {
  use: string;
  kid?: string;
  kty: string;
}

describe('JWT-SVIDs', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let config = '';
  let rootFile = '';
  let token = '';

  before(async () => {
    mkdirSync(ws.path('mesh'));
    config = ws.writeConfig({ namespace: 'meridian-system', ca: { dir: './ca' }, clusters: [{ id: 'alpha', manifests: './mesh' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    rootFile = ws.write('root.pem', await (await fetch(`http://${meridian.httpAddress}/trust-bundle`)).text());
    const minted = await MeridianProcess.run(['token', '--config', config, '--namespace', 'demo', '--service-account', 'sleep']);
    assert.equal(minted.code, 0, minted.stderr);
    token = minted.stdout.trim();
  });

  after(async () => {
    await meridian.stop();
    ws.remove();
  });

  const jwtSvid = (...args: string[]) => MeridianProcess.run(['jwt-svid', '--server', meridian.xdsTlsAddress, '--server-name', 'localhost', '--root-cert', rootFile, ...args]);

  it('mints one for the proven identity; jose verifies it with the bundle keys marked jwt-svid', async () => {
    const got = await jwtSvid('--token', token, '--audience', 'payments.example.com', '--audience', 'audit');
    assert.equal(got.code, 0, got.stderr);
    const svid = got.stdout.trim();
    assert.match(got.stderr, /JWT-SVID for spiffe:\/\/cluster\.local\/ns\/demo\/sa\/sleep/);
    const bundle = (await (await fetch(`http://${meridian.httpAddress}/.well-known/spiffe-bundle`)).json()) as { keys: BundleKey[] };
    const jwtKeys = bundle.keys.filter((k) => k.use === 'jwt-svid');
    assert.equal(jwtKeys.length, 1);
    assert.equal(decodeProtectedHeader(svid).kid, jwtKeys[0]?.kid, 'the header names the bundle key');
    // jose takes keys with no `use` or `use: sig`: the bundle's jwt-svid keys, as a verifier would pick them.
    const keySet = createLocalJWKSet({ keys: jwtKeys.map(({ use: _use, ...k }) => k) as never });
    const { payload, protectedHeader } = await jwtVerify(svid, keySet, { audience: 'payments.example.com', issuer: 'spiffe://cluster.local' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, 'spiffe://cluster.local/ns/demo/sa/sleep');
    assert.deepEqual(payload.aud, ['payments.example.com', 'audit']);
    assert.ok(payload.exp !== undefined && payload.iat !== undefined && payload.exp - payload.iat === 300, 'five minutes by default');
    await assert.rejects(jwtVerify(svid, keySet, { audience: 'someone-else' }), /aud/);
    // The X.509 roots of the bundle do not verify it: only the jwt-svid key does.
    const x509Only = createLocalJWKSet({ keys: bundle.keys.filter((k) => k.use === 'x509-svid').map(({ use: _use, ...k }) => k) as never });
    await assert.rejects(jwtVerify(svid, x509Only));
  });

  it('caps the lifetime it is asked for at an hour', async () => {
    const got = await jwtSvid('--token', token, '--audience', 'a', '--ttl', '86400');
    assert.equal(got.code, 0, got.stderr);
    const [, body = ''] = got.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { iat: number; exp: number };
    assert.equal(claims.exp - claims.iat, 3600);
  });

  it('refuses a caller without credentials (UNAUTHENTICATED) and a request without an audience (INVALID_ARGUMENT)', async () => {
    const method = jwtSvidServiceDefinition()['FetchJwtSvid'] as grpc.MethodDefinition<FetchJwtSvidRequestMessage, FetchJwtSvidResponseMessage>;
    const client = new grpc.Client(meridian.xdsTlsAddress, grpc.credentials.createSsl(readFileSync(rootFile)), { 'grpc.ssl_target_name_override': 'localhost' });
    const ask = (request: FetchJwtSvidRequestMessage, metadata = new grpc.Metadata()) =>
      new Promise<grpc.ServiceError>((resolve, reject) =>
        client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadata, (err) => (err ? resolve(err) : reject(new Error('answered')))),
      );
    try {
      const anonymous = await ask({ audience: ['a'] });
      assert.equal(anonymous.code, grpc.status.UNAUTHENTICATED);
      assert.equal(anonymous.details, 'authentication failed');
      const withToken = new grpc.Metadata();
      withToken.set('authorization', `Bearer ${token}`);
      const noAudience = await ask({ audience: [] }, withToken);
      assert.equal(noAudience.code, grpc.status.INVALID_ARGUMENT);
      assert.match(noAudience.details, /audience: at least one non-empty audience is required/);
    } finally {
      client.close();
    }
  });
});
