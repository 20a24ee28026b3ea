import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientCertAuthenticator, certTrustOf, type CertTrust } from './authn/client-cert.ts';
import { grpcMetadata } from './testing/index.ts';
import { createAuthority, type CaAuthority } from './authority.ts';
import { createIntermediate, createSelfSignedRoot } from './ca-certificates.ts';
import { rotatedCertTrust } from './rotation.ts';
import { SvidSigner } from './signer.ts';
import { makeCsr } from './testing/index.ts';

const TD = 'cluster.local';

async function rootAuthority(): Promise<CaAuthority> {
  const root = await createSelfSignedRoot({ trustDomain: TD });
  return createAuthority({ certDer: root.certDer, key: root.key });
}

async function intermediateUnder(root: CaAuthority, rootsDer: readonly Uint8Array[]): Promise<CaAuthority> {
  const inter = await createIntermediate({ parent: root, clusterId: 'c1', trustDomain: TD });
  return createAuthority({ certDer: inter.certDer, key: inter.key, chainDer: [inter.certDer, root.certDer], rootsDer });
}

async function svid(authority: CaAuthority): Promise<Uint8Array> {
  const signer = new SvidSigner({ trustDomain: TD, authority });
  return (await signer.sign({ csr: (await makeCsr({ uris: [`spiffe://${TD}/ns/demo/sa/echo`] })).pem, ttlSeconds: 3600 })).leafDer;
}

async function renews(trust: CertTrust, leaf: Uint8Array): Promise<boolean> {
  const a = new ClientCertAuthenticator({ trust: () => trust, trustDomain: TD });
  return (await a.authenticate({ metadata: grpcMetadata({}), peerCertificateDer: leaf })).ok;
}

describe('rotatedCertTrust', () => {
  it('lets SVIDs of the previous intermediate renew while its root is still trusted, and not after', async () => {
    const rootA = await rootAuthority();
    const rootB = await rootAuthority();
    const before = await intermediateUnder(rootA, [rootA.certDer]);
    const oldLeaf = await svid(before);

    // Overlap: signing under B, root-cert.pem = B + A.
    const overlap = await intermediateUnder(rootB, [rootB.certDer, rootA.certDer]);
    assert.equal(await renews(certTrustOf(overlap), oldLeaf), false, 'the signing authority alone no longer knows the old intermediate');
    const t1 = rotatedCertTrust(certTrustOf(before), overlap);
    assert.equal(await renews(t1, oldLeaf), true);
    assert.equal(await renews(t1, await svid(overlap)), true);

    // A second reload of the same files keeps what the first carried over.
    const t2 = rotatedCertTrust(t1, overlap);
    assert.equal(await renews(t2, oldLeaf), true);

    // Old root removed: the old intermediate leads nowhere and is dropped.
    const after = createAuthority({ certDer: overlap.certDer, key: overlap.key, chainDer: [overlap.certDer, rootB.certDer], rootsDer: [rootB.certDer] });
    const t3 = rotatedCertTrust(t2, after);
    assert.equal(t3.intermediatesDer?.length, 1);
    assert.equal(await renews(t3, oldLeaf), false);
    assert.equal(await renews(t3, await svid(after)), true);
  });

  it('drops expired previous intermediates', async () => {
    const rootA = await rootAuthority();
    const before = await intermediateUnder(rootA, [rootA.certDer]);
    const next = await intermediateUnder(rootA, [rootA.certDer]);
    const inTwoYears = Date.now() + 2 * 365 * 24 * 3600_000;
    assert.equal(rotatedCertTrust(certTrustOf(before), next).intermediatesDer?.length, 2);
    assert.equal(rotatedCertTrust(certTrustOf(before), next, inTwoYears).intermediatesDer?.length, 1);
  });
});
