/**
 * SDS over ADS for Envoy sidecars: a sidecar on the TLS port, identified by its SVID, gets a
 * fresh certificate for exactly that identity as the `default` secret, plus `ROOTCA`; on the
 * plaintext port, metadata alone earns the roots only.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { AdsTestClient, type AdsResponse } from '@meridian/testkit';
import { issueSvidWithCli } from '../support/cli-svid.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** Reads SDS responses until both secrets (or only ROOTCA, if `rootsOnly`) have arrived. */
async function secretsOf(client: AdsTestClient, rootsOnly: boolean): Promise<Map<string, Record<string, unknown>>> {
  client.send({ typeUrl: SECRET, names: ['default', 'ROOTCA'] });
  const got = new Map<string, Record<string, unknown>>();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !(got.has('ROOTCA') && (rootsOnly || got.has('default')))) {
    const r: AdsResponse = await client.next(10_000);
    client.ack(r, ['default', 'ROOTCA']);
    for (const res of r.resources) got.set(String(res['name']), res);
  }
  return got;
}

describe('SDS over ADS', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let root: Buffer;
  const clients: AdsTestClient[] = [];

  before(async () => {
    mkdirSync(ws.path('c1'));
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    root = Buffer.from(await (await fetch(`http://${meridian.httpAddress}/trust-bundle`)).text());
    const rootFile = ws.write('root.pem', root.toString());
    const got = await issueSvidWithCli({ meridian, config, rootCert: rootFile, out: ws.path('svid') });
    assert.equal(got.code, 0, got.stderr);
  });

  after(async () => {
    for (const c of clients) c.close();
    await meridian.stop();
    ws.remove();
  });

  it('issues the proven identity, not the claimed one, to a sidecar on the TLS port', async () => {
    const dir = ws.path('svid');
    const client = AdsTestClient.connect(
      meridian.xdsTlsAddress,
      { id: 'sidecar~10.0.0.9~echo-0.demo~demo.svc.cluster.local', metadata: { SERVICE_ACCOUNT: 'admin', NAMESPACE: 'kube-system' } },
      grpc.credentials.createSsl(root, readFileSync(path.join(dir, 'key.pem')), readFileSync(path.join(dir, 'cert-chain.pem')), { checkServerIdentity: () => undefined }),
    );
    clients.push(client);
    const secrets = await secretsOf(client, false);
    const tls = secrets.get('default')?.['tls_certificate'] as { certificate_chain: { inline_string: string }; private_key: { inline_string: string } };
    const leaf = new X509Certificate(tls.certificate_chain.inline_string);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/demo/sa/echo');
    assert.match(tls.private_key.inline_string, /PRIVATE KEY/);
    assert.notEqual(leaf.serialNumber, new X509Certificate(readFileSync(path.join(dir, 'cert-chain.pem'))).serialNumber, 'a fresh certificate');
    const roots = secrets.get('ROOTCA')?.['validation_context'] as { trusted_ca: { inline_string: string } };
    assert.equal(new X509Certificate(roots.trusted_ca.inline_string).fingerprint256, new X509Certificate(root).fingerprint256);
  });

  it('gives a plaintext sidecar the roots and no certificate', async () => {
    const client = AdsTestClient.connect(meridian.xdsAddress, { id: 'sidecar~10.0.0.8~other-0.demo~demo.svc.cluster.local', metadata: { SERVICE_ACCOUNT: 'echo' } });
    clients.push(client);
    const secrets = await secretsOf(client, true);
    assert.ok(secrets.has('ROOTCA'));
    assert.ok(await client.quiet(500), 'no certificate follows');
    assert.equal(secrets.has('default'), false);
  });
});
