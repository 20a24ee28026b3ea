import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuthority, type CaAuthority } from '../authority.ts';
import { createIntermediate, createSelfSignedRoot } from '../ca-certificates.ts';
import { SvidSigner } from '../signer.ts';
import { makeCsr } from '../testing/index.ts';
import { ClientCertAuthenticator, certTrustOf } from './client-cert.ts';
import { grpcMetadata } from '../testing/index.ts';
import { AuthMethod } from './types.ts';

const TD = 'cluster.local';

async function rootAuthority(trustDomain = TD): Promise<CaAuthority> {
  const root = await createSelfSignedRoot({ trustDomain });
  return createAuthority({ certDer: root.certDer, key: root.key });
}

async function svid(authority: CaAuthority, uri: string, trustDomain = TD): Promise<Uint8Array> {
  const signer = new SvidSigner({ trustDomain, authority });
  return (await signer.sign({ csr: (await makeCsr({ uris: [uri] })).pem, ttlSeconds: 3600 })).leafDer;
}

function authnFor(authority: CaAuthority | undefined, clock?: () => number): ClientCertAuthenticator {
  return new ClientCertAuthenticator({
    trust: () => (authority === undefined ? undefined : certTrustOf(authority)),
    trustDomain: TD,
    ...(clock === undefined ? {} : { clock }),
  });
}

const ctx = (der?: Uint8Array) => ({ metadata: grpcMetadata({}), ...(der === undefined ? {} : { peerCertificateDer: der }) });

describe('ClientCertAuthenticator', () => {
  it('reads the identity of an SVID from our root', async () => {
    const ca = await rootAuthority();
    const r = await authnFor(ca).authenticate(ctx(await svid(ca, `spiffe://${TD}/ns/shop/sa/cart`)));
    assert.deepEqual(r, { ok: true, identity: { trustDomain: TD, namespace: 'shop', serviceAccount: 'cart', via: AuthMethod.ClientCert } });
  });

  it('follows our intermediate up to the root', async () => {
    const root = await rootAuthority();
    const inter = await createIntermediate({ parent: root, clusterId: 'east', trustDomain: TD });
    const ca = createAuthority({ certDer: inter.certDer, key: inter.key, rootsDer: root.rootsDer });
    const r = await authnFor(ca).authenticate(ctx(await svid(ca, `spiffe://${TD}/ns/shop/sa/cart`)));
    assert.ok(r.ok, r.ok ? '' : r.reason);
  });

  it('refuses certificates from another root, expired ones, and other trust domains', async () => {
    const ca = await rootAuthority();
    const foreign = await rootAuthority();
    const a = authnFor(ca);
    const r1 = await a.authenticate(ctx(await svid(foreign, `spiffe://${TD}/ns/shop/sa/cart`)));
    assert.ok(!r1.ok && r1.code === 'UNAUTHENTICATED' && /chain/.test(r1.reason));
    const leaf = await svid(ca, `spiffe://${TD}/ns/shop/sa/cart`);
    const r2 = await authnFor(ca, () => Date.now() + 2 * 3600_000).authenticate(ctx(leaf));
    assert.ok(!r2.ok && /not valid now/.test(r2.reason));
    const otherTd = await rootAuthority('other.example');
    const r3 = await authnFor(otherTd).authenticate(ctx(await svid(otherTd, 'spiffe://other.example/ns/shop/sa/cart', 'other.example')));
    assert.ok(!r3.ok && /trust domain/.test(r3.reason));
  });

  it('refuses a CA certificate and garbage', async () => {
    const ca = await rootAuthority();
    const r1 = await authnFor(ca).authenticate(ctx(ca.certDer));
    assert.ok(!r1.ok && /CA certificate/.test(r1.reason));
    const r2 = await authnFor(ca).authenticate(ctx(new Uint8Array([0x30, 0x03, 1, 2, 3])));
    assert.ok(!r2.ok && r2.code === 'UNAUTHENTICATED');
  });

  it('is UNAVAILABLE while the CA has no material, and says so without a certificate', async () => {
    const ca = await rootAuthority();
    const r = await authnFor(undefined).authenticate(ctx(await svid(ca, `spiffe://${TD}/ns/shop/sa/cart`)));
    assert.ok(!r.ok && r.code === 'UNAVAILABLE');
    const none = await authnFor(ca).authenticate(ctx());
    assert.ok(!none.ok && none.reason === 'no verified client certificate');
  });
});
