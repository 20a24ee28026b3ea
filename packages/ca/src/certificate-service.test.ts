import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { createLogger, silentLogger, type Logger } from '@meridian/model';
import { createAuthority, type CaAuthority } from './authority.ts';
import { ClientCertAuthenticator, certTrustOf } from './authn/client-cert.ts';
import { JwtAuthenticator } from './authn/jwt-authenticator.ts';
import { LocalJwtIssuer } from './authn/local-jwt-issuer.ts';
import type { Authenticator } from './authn/types.ts';
import { createSelfSignedRoot } from './ca-certificates.ts';
import { CertificateClient } from './certificate-client.ts';
import { addCertificateService, CertFailure, type CertificateServiceCallbacks, type CertificateServiceOptions } from './certificate-service.ts';
import type { RateLimitOptions } from './rate-limiter.ts';
import { SvidSigner } from './signer.ts';
import { makeCsr, opensslVerify, withTempDir, type TestCsr } from './testing/index.ts';
import { optionalClientCertCredentials, TlsMaterialProvider } from './tls-credentials.ts';

const TD = 'cluster.local';
const SERVER_NAME = 'meridian.istio-system.svc';
const uri = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

async function newAuthority(): Promise<CaAuthority> {
  const root = await createSelfSignedRoot({ trustDomain: TD });
  return createAuthority({ certDer: root.certDer, key: root.key });
}

interface Harness {
  readonly signer: SvidSigner;
  readonly issuer: LocalJwtIssuer;
  readonly authority: CaAuthority;
  readonly address: string;
  readonly service: ReturnType<typeof addCertificateService>;
  client(options?: { readonly svid?: { keyPem: string; certPem: string } }): CertificateClient;
}

const toClose: (() => void)[] = [];
after(() => toClose.forEach((close) => close()));

interface HarnessOptions {
  readonly ready?: boolean;
  readonly rateLimit?: RateLimitOptions | false;
  readonly callbacks?: Partial<CertificateServiceCallbacks>;
  readonly logger?: Logger;
  readonly tls?: 'optional-client-cert' | 'createSsl-required';
}

async function start(opts: HarnessOptions = {}): Promise<Harness> {
  const authority = await newAuthority();
  const signer = new SvidSigner({ trustDomain: TD, ...(opts.ready === false ? {} : { authority }) });
  const issuer = new LocalJwtIssuer({ key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, issuer: 'https://meridian.test' });
  const authenticators: Authenticator[] = [
    new ClientCertAuthenticator({ trust: () => (signer.authority === undefined ? undefined : certTrustOf(signer.authority)), trustDomain: TD }),
    new JwtAuthenticator({ issuers: [issuer.issuerConfig()] }),
  ];
  const options: CertificateServiceOptions = {
    signer,
    authenticators,
    logger: opts.logger ?? silentLogger(),
    rateLimit: opts.rateLimit ?? false,
    ...(opts.callbacks === undefined ? {} : { callbacks: opts.callbacks }),
  };
  const server = new grpc.Server();
  const service = addCertificateService(server, options);
  const rootPem = authority.chainAfterLeafPem.join('');
  let credentials = grpc.ServerCredentials.createInsecure();
  if (opts.tls !== undefined) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const serving = await signer.signServingCertificate({ publicKey, dnsNames: [SERVER_NAME] });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const certChainPem = serving.certChainPem.slice(0, -1).join('');
    credentials =
      opts.tls === 'optional-client-cert'
        ? optionalClientCertCredentials(new TlsMaterialProvider({ material: { keyPem, certChainPem, caPem: rootPem } }))
        : grpc.ServerCredentials.createSsl(Buffer.from(rootPem), [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certChainPem) }], true);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  toClose.push(() => server.forceShutdown());
  const address = `127.0.0.1:${port}`;
  return {
    signer,
    issuer,
    authority,
    address,
    service,
    client(copts = {}) {
      const creds =
        opts.tls === undefined
          ? grpc.credentials.createInsecure()
          : copts.svid === undefined
            ? grpc.credentials.createSsl(Buffer.from(rootPem))
            : grpc.credentials.createSsl(Buffer.from(rootPem), Buffer.from(copts.svid.keyPem), Buffer.from(copts.svid.certPem));
      const c = new CertificateClient({ address, credentials: creds, channelOptions: { 'grpc.ssl_target_name_override': SERVER_NAME } });
      toClose.push(() => c.close());
      return c;
    },
  };
}

async function rejects(p: Promise<unknown>, code: grpc.status): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    return e;
  }
  assert.fail(`expected ${grpc.status[code]}, but a certificate was issued`);
}

function leafUri(pem: string | undefined): string | undefined {
  return new X509Certificate(pem ?? '').subjectAltName;
}

describe('certificate service over gRPC (token callers)', () => {
  it('issues an SVID for exactly the token holder, leaf first and root last, that openssl verifies', async () => {
    const h = await start();
    const csr = await makeCsr({ uris: [uri('shop', 'cart')] });
    const chain = await h.client().createCertificate({ csr: csr.pem, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' }) });
    assert.equal(chain.length, 2);
    assert.equal(leafUri(chain[0]), `URI:${uri('shop', 'cart')}`);
    assert.equal(chain[1], h.authority.chainAfterLeafPem.at(-1));
    for (const pem of chain) assert.equal(pem.match(/BEGIN CERTIFICATE/g)?.length, 1, 'one PEM certificate per element');
    await withTempDir(async (dir) => {
      const v = await opensslVerify(dir, chain, 'sslclient');
      assert.ok(v.ok, v.output);
    });
    assert.equal(h.signer.stats().issued, 1);
  });

  it('refuses another service account\'s identity with PERMISSION_DENIED and issues nothing', async () => {
    const h = await start();
    const csr = await makeCsr({ uris: [uri('shop', 'payments')] });
    const e = await rejects(h.client().createCertificate({ csr: csr.pem, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' }) }), grpc.status.PERMISSION_DENIED);
    // The caller's own mistake, told with what it sent and what it proved: nothing it did not know.
    assert.equal(e.details, `permission denied: the CSR asks for ${uri('shop', 'payments')}, but the caller's credential proves namespace shop, service account cart`);
    const other = await makeCsr({ uris: [uri('bank', 'cart')] });
    await rejects(h.client().createCertificate({ csr: other.pem, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' }) }), grpc.status.PERMISSION_DENIED);
    assert.equal(h.signer.stats().issued, 0);
    assert.deepEqual(h.signer.stats().failed, {}, 'the signer was never even asked');
    assert.equal(h.service.stats().failed[CertFailure.Impersonation], 2);
  });

  it('UNAUTHENTICATED without credentials, or with an expired or wrong-audience token', async () => {
    const h = await start();
    const csr = (await makeCsr({ uris: [uri('shop', 'cart')] })).pem;
    const c = h.client();
    const e = await rejects(c.createCertificate({ csr }), grpc.status.UNAUTHENTICATED);
    assert.equal(e.details, 'authentication failed');
    const expiredIssuer = new LocalJwtIssuer({ key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, issuer: h.issuer.issuer, clock: () => Date.now() - 3 * 3600_000 });
    // Same issuer name, other key: also shows a key we do not know cannot pass.
    await rejects(c.createCertificate({ csr, token: expiredIssuer.mint({ namespace: 'shop', serviceAccount: 'cart', ttlSeconds: 60 }) }), grpc.status.UNAUTHENTICATED);
    await rejects(c.createCertificate({ csr, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart', audience: 'kubernetes' }) }), grpc.status.UNAUTHENTICATED);
    await rejects(c.createCertificate({ csr, token: 'not-a-jwt' }), grpc.status.UNAUTHENTICATED);
    assert.equal(h.signer.stats().issued, 0);
  });

  it('INVALID_ARGUMENT for two URI SANs, a DNS SAN only, garbage and a negative validity', async () => {
    const h = await start();
    const c = h.client();
    const token = h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' });
    const two = await makeCsr({ uris: [uri('shop', 'cart'), uri('shop', 'other')] });
    const e = await rejects(c.createCertificate({ csr: two.pem, token }), grpc.status.INVALID_ARGUMENT);
    assert.match(e.details, /2 URI SANs/);
    await rejects(c.createCertificate({ csr: (await makeCsr({ dns: ['cart.shop.svc'] })).pem, token }), grpc.status.INVALID_ARGUMENT);
    await rejects(c.createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'cart')], dns: ['x.y'] })).pem, token }), grpc.status.INVALID_ARGUMENT);
    await rejects(c.createCertificate({ csr: 'garbage', token }), grpc.status.INVALID_ARGUMENT);
    await rejects(c.createCertificate({ csr: '', token }), grpc.status.INVALID_ARGUMENT);
    const ok = await makeCsr({ uris: [uri('shop', 'cart')] });
    await rejects(c.createCertificate({ csr: ok.pem, token, validitySeconds: -1 }), grpc.status.INVALID_ARGUMENT);
    assert.equal(h.signer.stats().issued, 0);
  });

  it('honours validity_duration and treats 0 as the default', async () => {
    const h = await start();
    const token = h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' });
    const lifetime = async (validitySeconds: number): Promise<number> => {
      const [leaf] = await h.client().createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'cart')] })).pem, token, validitySeconds });
      const x = new X509Certificate(leaf ?? '');
      return (Date.parse(x.validTo) - Date.now()) / 1000;
    };
    assert.ok(Math.abs((await lifetime(3600)) - 3600) < 5);
    assert.ok(Math.abs((await lifetime(0)) - 24 * 3600) < 5);
  });

  it('RESOURCE_EXHAUSTED past the per-identity rate, while other identities go on', async () => {
    const h = await start({ rateLimit: { refill: 1, intervalMs: 60_000, burst: 2 } });
    const c = h.client();
    const cart = h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' });
    const csr = (await makeCsr({ uris: [uri('shop', 'cart')] })).pem;
    await c.createCertificate({ csr, token: cart });
    await c.createCertificate({ csr, token: cart });
    await rejects(c.createCertificate({ csr, token: cart }), grpc.status.RESOURCE_EXHAUSTED);
    const web = (await makeCsr({ uris: [uri('shop', 'web')] })).pem;
    await c.createCertificate({ csr: web, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'web' }) });
    assert.equal(h.signer.stats().issued, 3);
  });

  it('UNAVAILABLE while the CA has no signing material', async () => {
    const h = await start({ ready: false });
    const csr = (await makeCsr({ uris: [uri('shop', 'cart')] })).pem;
    const e = await rejects(h.client().createCertificate({ csr, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' }) }), grpc.status.UNAVAILABLE);
    assert.match(e.details, /retry/);
  });

  it('reports to the hooks and logs the full reason with cluster, identity, peer and code', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const events: { kind: string; reason?: string; latencyMs: number }[] = [];
    const h = await start({
      logger: createLogger({ destination }),
      callbacks: {
        onIssued: (e) => events.push({ kind: 'issued', latencyMs: e.latencyMs }),
        onFailed: (e) => {
          events.push({ kind: 'failed', reason: e.reason, latencyMs: e.latencyMs });
          throw new Error('a broken hook must not break the call');
        },
      },
    });
    const c = h.client();
    const token = h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' });
    await c.createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'cart')] })).pem, token });
    await rejects(c.createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'db')] })).pem, token }), grpc.status.PERMISSION_DENIED);
    await rejects(c.createCertificate({ csr: 'x', token }), grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(events.map((e) => [e.kind, e.reason]), [['issued', undefined], ['failed', CertFailure.Impersonation], ['failed', 'CA_ERR_CSR_INVALID']]);
    assert.ok(events.every((e) => e.latencyMs >= 0));
    await new Promise((resolve) => setImmediate(resolve));
    const refused = lines.find((l) => l['msg'] === 'certificate request refused' && l['reason'] === CertFailure.Impersonation);
    assert.ok(refused, JSON.stringify(lines));
    assert.equal(refused['identity'], 'shop/cart');
    assert.equal(refused['code'], 'PERMISSION_DENIED');
    assert.match(String(refused['detail']), /ns\/shop\/sa\/db/);
    assert.match(String(refused['peer']), /127\.0\.0\.1/);
    assert.ok(lines.some((l) => l['msg'] === 'certificate issued' && l['identity'] === 'shop/cart'));
  });
});

describe('certificate service over TLS (renewal with the SVID as client certificate)', () => {
  async function svidFor(h: Harness, ns: string, sa: string, signer = h.signer): Promise<{ keyPem: string; certPem: string }> {
    const csr: TestCsr = await makeCsr({ uris: [uri(ns, sa)] });
    const issued = await signer.sign({ csr: csr.pem });
    return { keyPem: csr.keyPem, certPem: issued.certChainPem.slice(0, -1).join('') };
  }

  for (const tls of ['optional-client-cert', 'createSsl-required'] as const) {
    it(`a valid SVID renews its own identity, without a token (${tls})`, async () => {
      const h = await start({ tls });
      const svid = await svidFor(h, 'shop', 'cart');
      const chain = await h.client({ svid }).createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'cart')] })).pem });
      assert.equal(leafUri(chain[0]), `URI:${uri('shop', 'cart')}`);
      await rejects(h.client({ svid }).createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'web')] })).pem }), grpc.status.PERMISSION_DENIED);
    });
  }

  it('a certificate from another root is refused; a token still works on the same port', async () => {
    const h = await start({ tls: 'optional-client-cert' });
    const foreignSigner = new SvidSigner({ trustDomain: TD, authority: await newAuthority() });
    const foreign = await svidFor(h, 'shop', 'cart', foreignSigner);
    const csr = (await makeCsr({ uris: [uri('shop', 'cart')] })).pem;
    await rejects(h.client({ svid: foreign }).createCertificate({ csr }), grpc.status.UNAUTHENTICATED);
    const chain = await h.client().createCertificate({ csr, token: h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' }) });
    assert.equal(chain.length, 2);
    assert.equal(h.signer.stats().issued, 1);
  });

  it('with createSsl(..., true) a foreign certificate fails already at the handshake', async () => {
    const h = await start({ tls: 'createSsl-required' });
    const foreign = await svidFor(h, 'shop', 'cart', new SvidSigner({ trustDomain: TD, authority: await newAuthority() }));
    await rejects(h.client({ svid: foreign }).createCertificate({ csr: (await makeCsr({ uris: [uri('shop', 'cart')] })).pem, deadlineMs: 3000 }), grpc.status.UNAVAILABLE);
    assert.equal(h.signer.stats().issued, 0);
  });
});

/**
 * Property tests: whatever CSR or token a caller sends, the answer is the caller's mistake
 * with a reason (INVALID_ARGUMENT or UNAUTHENTICATED), never a server fault, never a
 * certificate.
 */
describe('certificate service: any CSR, any token', () => {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  const b64url = (text: string) => Buffer.from(text).toString('base64url');

  it('a CSR that is not a valid request for the caller is INVALID_ARGUMENT with a reason; nothing is issued', async () => {
    const h = await start();
    const c = h.client();
    const token = h.issuer.mint({ namespace: 'shop', serviceAccount: 'cart' });
    const csr = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 2000 }),
      fc.uint8Array({ minLength: 1, maxLength: 1500 }).map((b) => `-----BEGIN CERTIFICATE REQUEST-----\n${base64(b)}\n-----END CERTIFICATE REQUEST-----\n`),
      // A DER SEQUENCE header over random content: gets past the armour and the first tag.
      fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => `-----BEGIN CERTIFICATE REQUEST-----\n${base64(Buffer.concat([Buffer.from([0x30, b.length]), Buffer.from(b)]))}\n-----END CERTIFICATE REQUEST-----\n`),
    );
    await fc.assert(
      fc.asyncProperty(csr, async (text) => {
        try {
          await c.createCertificate({ csr: text, token });
        } catch (err) {
          const e = err as grpc.ServiceError;
          assert.equal(e.code, grpc.status.INVALID_ARGUMENT, `${grpc.status[e.code]}: ${e.details}`);
          assert.ok(e.details.length > 0, 'says why');
          return;
        }
        assert.fail('a certificate was issued for a random CSR');
      }),
      { numRuns: 150 },
    );
    assert.equal(h.signer.stats().issued, 0);
  });

  it('a token that was not minted for the caller is UNAUTHENTICATED, opaque to the caller; nothing is issued', async () => {
    const h = await start();
    const c = h.client();
    const csr = (await makeCsr({ uris: [uri('shop', 'cart')] })).pem;
    const claims = fc.record(
      {
        iss: fc.oneof(fc.constant(h.issuer.issuer), fc.string({ maxLength: 30 })),
        sub: fc.oneof(fc.constant('system:serviceaccount:shop:cart'), fc.string({ maxLength: 40 })),
        aud: fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 })),
        exp: fc.integer(),
        nbf: fc.integer(),
        kubernetes: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    );
    const header = fc.record({ alg: fc.constantFrom('none', 'ES256', 'RS256', 'HS256', 'EdDSA', ''), kid: fc.string({ maxLength: 10 }), typ: fc.constant('JWT') }, { requiredKeys: ['alg'] });
    const token = fc.oneof(
      fc.string({ maxLength: 500 }).filter((t) => !/[\r\n\0]/.test(t)),
      fc.tuple(header, claims, fc.uint8Array({ maxLength: 80 })).map(([hd, cl, sig]) => `${b64url(JSON.stringify(hd))}.${b64url(JSON.stringify(cl))}.${Buffer.from(sig).toString('base64url')}`),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        try {
          await c.createCertificate({ csr, token: t });
        } catch (err) {
          const e = err as grpc.ServiceError;
          assert.equal(e.code, grpc.status.UNAUTHENTICATED, `${grpc.status[e.code]}: ${e.details}`);
          assert.equal(e.details, 'authentication failed');
          return;
        }
        assert.fail('a certificate was issued for a forged token');
      }),
      { numRuns: 150 },
    );
    assert.equal(h.signer.stats().issued, 0);
  });
});
