import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createAuthority } from './authority.ts';
import { createIntermediate, createSelfSignedRoot } from './ca-certificates.ts';
import { CacertsFile, loadCacerts, writeCacertsAtomically } from './cacerts.ts';
import { loadOrCreateSelfSignedCa } from './ca-store.ts';
import { CaError, CaErrorCode } from './errors.ts';
import { mintIntermediateCacerts } from './intermediate.ts';
import { SvidSigner } from './signer.ts';
import { makeCsr, opensslVerify, withTempDir } from './testing/index.ts';
import { x509 } from './x509.ts';

const TD = 'cluster.local';

function hasCode(code: CaErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

async function rootIn(dir: string) {
  return loadOrCreateSelfSignedCa({ dir, trustDomain: TD });
}

describe('plugged-in CA (cacerts layout)', () => {
  it('mints a per-cluster intermediate, writes it in cacerts layout, and it issues verifiable SVIDs', async () => {
    await withTempDir(async (tmp) => {
      const root = await rootIn(path.join(tmp, 'root'));
      const out = path.join(tmp, 'east');
      const inter = await mintIntermediateCacerts({ rootDir: path.join(tmp, 'root'), clusterId: 'east', outDir: out });
      assert.deepEqual((await readdir(out)).sort(), Object.values(CacertsFile).sort());
      assert.equal((await stat(path.join(out, CacertsFile.key))).mode & 0o777, 0o600);
      assert.equal(inter.isRoot, false);
      assert.equal(inter.rootsDer[0]?.equals(root.authority.certDer), true);
      const cert = new x509.X509Certificate(inter.certDer);
      assert.match(cert.subject, /Meridian Intermediate CA east/);
      assert.match(cert.subject, /O=cluster\.local/);
      assert.equal(cert.getExtension(x509.BasicConstraintsExtension)?.pathLength, 0);
      assert.equal(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, Buffer.from(root.authority.subjectKeyId).toString('hex'));
      const chainText = await readFile(path.join(out, CacertsFile.chain), 'utf8');
      assert.equal(chainText.match(/BEGIN CERTIFICATE/g)?.length, 2, 'cert-chain.pem = intermediate + root');

      // Two clusters' intermediates under one root: identities verify everywhere.
      const west = await mintIntermediateCacerts({ rootDir: path.join(tmp, 'root', 'cacerts'), clusterId: 'west', outDir: path.join(tmp, 'west') });
      for (const authority of [inter, west]) {
        const svid = await new SvidSigner({ trustDomain: TD, authority }).sign({ csr: (await makeCsr({ uris: [`spiffe://${TD}/ns/a/sa/b`] })).pem });
        assert.equal(svid.certChainPem.length, 3);
        await withTempDir(async (d) => {
          const r = await opensslVerify(d, svid.certChainPem, 'sslclient');
          assert.ok(r.ok, r.output);
        });
      }
    });
  });

  it('refuses to overwrite an existing output directory', async () => {
    await withTempDir(async (tmp) => {
      await rootIn(path.join(tmp, 'root'));
      const outDir = path.join(tmp, 'east');
      await mintIntermediateCacerts({ rootDir: path.join(tmp, 'root'), clusterId: 'east', outDir });
      const before = await readFile(path.join(outDir, CacertsFile.key), 'utf8');
      await assert.rejects(mintIntermediateCacerts({ rootDir: path.join(tmp, 'root'), clusterId: 'east', outDir }), hasCode(CaErrorCode.Storage));
      assert.equal(await readFile(path.join(outDir, CacertsFile.key), 'utf8'), before);
    });
  });

  it('CA_ERR_KEY_MISMATCH when ca-key.pem belongs to another certificate', async () => {
    await withTempDir(async (tmp) => {
      const a = await rootIn(path.join(tmp, 'a'));
      const b = await rootIn(path.join(tmp, 'b'));
      await writeFile(path.join(a.cacertsDir, CacertsFile.key), await readFile(path.join(b.cacertsDir, CacertsFile.key)));
      await assert.rejects(loadCacerts(a.cacertsDir), hasCode(CaErrorCode.KeyMismatch));
    });
  });

  it('CA_ERR_CHAIN when the chain does not verify to root-cert.pem', async () => {
    await withTempDir(async (tmp) => {
      await rootIn(path.join(tmp, 'root'));
      const other = await rootIn(path.join(tmp, 'other'));
      const out = path.join(tmp, 'east');
      await mintIntermediateCacerts({ rootDir: path.join(tmp, 'root'), clusterId: 'east', outDir: out });
      await writeFile(path.join(out, CacertsFile.roots), await readFile(path.join(other.cacertsDir, CacertsFile.cert)));
      await assert.rejects(loadCacerts(out), hasCode(CaErrorCode.Chain));
    });
  });

  it('CA_ERR_NOT_CA when the signing certificate is a leaf', async () => {
    await withTempDir(async (tmp) => {
      const root = await rootIn(path.join(tmp, 'root'));
      const csr = await makeCsr({ uris: [`spiffe://${TD}/ns/a/sa/b`] });
      const leaf = await new SvidSigner({ trustDomain: TD, authority: root.authority }).sign({ csr: csr.pem });
      const dir = path.join(tmp, 'leaf-as-ca');
      const ok = await writeCacertsAtomically(dir, { certDer: leaf.leafDer, key: csr.key, chainDer: [root.authority.certDer], rootsDer: [root.authority.certDer] });
      assert.equal(ok, true);
      await assert.rejects(loadCacerts(dir), hasCode(CaErrorCode.NotCa));
    });
  });

  it('CA_ERR_CA_EXPIRED when the signing certificate is no longer valid', async () => {
    await withTempDir(async (tmp) => {
      const root = await rootIn(path.join(tmp, 'root'));
      await assert.rejects(loadCacerts(root.cacertsDir, { now: new Date(root.authority.notAfter.getTime() + 1000) }), hasCode(CaErrorCode.CaExpired));
    });
  });

  it('CA_ERR_CONFIG for missing files and unreadable keys, naming the file', async () => {
    await withTempDir(async (tmp) => {
      // Every missing file is named, in a fixed order (reads race; the report must not).
      await assert.rejects(
        loadCacerts(tmp),
        (err: unknown) => hasCode(CaErrorCode.Config)(err) && /ca-cert\.pem.*ca-key\.pem.*root-cert\.pem/.test((err as Error).message),
      );
      const root = await rootIn(path.join(tmp, 'root'));
      await writeFile(path.join(root.cacertsDir, CacertsFile.key), 'garbage');
      await assert.rejects(loadCacerts(root.cacertsDir), (err: unknown) => hasCode(CaErrorCode.Config)(err) && /ca-key\.pem/.test((err as Error).message));
    });
  });

  it('accepts several roots in root-cert.pem (rotation) and puts the anchor of the chain first', async () => {
    const old = await createSelfSignedRoot({ trustDomain: TD });
    const fresh = await createSelfSignedRoot({ trustDomain: TD });
    const freshAuthority = createAuthority({ certDer: fresh.certDer, key: fresh.key });
    const inter = await createIntermediate({ parent: freshAuthority, clusterId: 'c1', trustDomain: TD });
    const a = createAuthority({ certDer: inter.certDer, key: inter.key, chainDer: [inter.certDer, fresh.certDer], rootsDer: [old.certDer, fresh.certDer] });
    assert.equal(a.rootsDer.length, 2);
    assert.equal(a.rootsDer[0]?.equals(fresh.certDer), true);
    assert.equal(a.intermediatesDer.length, 0);
  });
});
