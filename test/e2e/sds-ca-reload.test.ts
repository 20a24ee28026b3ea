/**
 * A plugged-in CA reloaded under the real `meridian serve` (root A → overlap with root B):
 * every connected sidecar is sent the new roots and a certificate from the new signing CA at
 * once, over its existing ADS stream, without asking and without waiting for its renewal.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { certToPem, createAuthority, createIntermediate, createSelfSignedRoot, type CaAuthority, type CaCertificate } from '@meridian/ca';
import { AdsTestClient, type AdsResponse } from '@meridian/testkit';
import { CacertsVolume } from '../support/cacerts-volume.ts';
import { issueSvidWithCli } from '../support/cli-svid.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const TD = 'cluster.local';
const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const NAMES = ['default', 'ROOTCA'];

interface Held {
  roots: string[];
  leaf: X509Certificate | undefined;
}

function certificates(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}

/** Applies SDS responses to what the sidecar holds (ACKing each) until `done` says so. */
async function receive(client: AdsTestClient, held: Held, done: (h: Held) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done(held)) {
    const r: AdsResponse = await client.next(Math.max(1, deadline - Date.now()));
    client.ack(r, NAMES);
    for (const s of r.resources) {
      const tls = s['tls_certificate'] as { certificate_chain: { inline_string: string } } | undefined;
      const roots = (s['validation_context'] as { trusted_ca: { inline_string: string } } | undefined)?.trusted_ca.inline_string;
      if (tls) held.leaf = certificates(tls.certificate_chain.inline_string)[0];
      if (roots) held.roots = certificates(roots).map((c) => c.fingerprint256);
    }
  }
}

describe('SDS after a CA reload', () => {
  const ws = new Workspace();
  const cacerts = ws.path('cacerts');
  let meridian: MeridianProcess;
  let rootA: CaAuthority;
  let rootB: CaAuthority;
  let intB: CaCertificate;
  const volume = new CacertsVolume(cacerts);
  const clients: AdsTestClient[] = [];

  before(async () => {
    const a = await createSelfSignedRoot({ trustDomain: TD, commonName: 'Root A' });
    const b = await createSelfSignedRoot({ trustDomain: TD, commonName: 'Root B' });
    rootA = createAuthority({ certDer: a.certDer, key: a.key });
    rootB = createAuthority({ certDer: b.certDer, key: b.key });
    const intA = await createIntermediate({ parent: rootA, clusterId: 'c1', trustDomain: TD });
    intB = await createIntermediate({ parent: rootB, clusterId: 'c1', trustDomain: TD });
    await volume.publish(intA, rootA, [rootA]);
    mkdirSync(ws.path('c1'));
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], ca: { dir: './ca', cacerts: './cacerts' } });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    const rootFile = ws.write('root-a.pem', certToPem(rootA.certDer));
    const got = await issueSvidWithCli({ meridian, config, rootCert: rootFile, out: ws.path('svid') });
    assert.equal(got.code, 0, got.stderr);
  });

  after(async () => {
    for (const c of clients) c.close();
    await meridian.stop();
    ws.remove();
  });

  it('sends every sidecar the new roots and a certificate from the new CA at once', async () => {
    const credentials = () =>
      grpc.credentials.createSsl(readFileSync(ws.path('root-a.pem')), readFileSync(ws.path('svid', 'key.pem')), readFileSync(ws.path('svid', 'cert-chain.pem')), {
        checkServerIdentity: () => undefined,
      });
    const sidecars = [0, 1].map((i) => {
      const c = AdsTestClient.connect(meridian.xdsTlsAddress, { id: `sidecar~10.0.0.${i + 1}~echo-${i}.demo~demo.svc.cluster.local` }, credentials());
      clients.push(c);
      return { client: c, held: { roots: [], leaf: undefined } as Held };
    });
    for (const { client, held } of sidecars) {
      client.send({ typeUrl: SECRET, names: NAMES });
      await receive(client, held, (h) => h.leaf !== undefined && h.roots.length > 0);
      assert.deepEqual(held.roots, [rootA.cert.fingerprint256]);
    }

    await volume.publish(intB, rootB, [rootB, rootA]);
    const intBCert = new X509Certificate(intB.certDer);
    await Promise.all(
      sidecars.map(({ client, held }) => receive(client, held, (h) => h.roots.length === 2 && h.leaf?.checkIssued(intBCert) === true)),
    );
    for (const { held } of sidecars) {
      assert.deepEqual(new Set(held.roots), new Set([rootA.cert.fingerprint256, rootB.cert.fingerprint256]));
      assert.equal(held.leaf?.subjectAltName, `URI:spiffe://${TD}/ns/demo/sa/echo`);
    }
  });
});
