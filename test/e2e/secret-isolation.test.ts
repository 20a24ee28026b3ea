/**
 * A workload's secret belongs to the ADS connection whose TLS handshake proved the identity,
 * never to the node id a client claims: against the real `meridian serve`, with real TLS and
 * SVIDs from Meridian's own CA, a client that copies a sidecar's node id (listed in
 * /debug/syncz and CSDS) gets no certificate, cannot deny the sidecar one, cannot wipe it by
 * leaving, and two connections with one node id are two proxies. No view of the server
 * (CSDS, /debug/*) ever shows key material, and one proxy's certificate pushes to no one else.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { AdsTestClient, CsdsTestClient, DeltaAdsTestClient, TypeUrls, type AdsResponse } from '@meridian/testkit';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { openTestCa, writeWorkloadCerts } from '../support/workload-certs.ts';

const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const NAMES = ['default', 'ROOTCA'];

interface TlsCertificate {
  certificate_chain: { inline_string: string };
  private_key: { inline_string: string };
}

/** Reads SDS responses until `default` and `ROOTCA` (or only ROOTCA) arrived; ACKs each. */
async function secretsOf(client: AdsTestClient, want: readonly string[] = NAMES, timeoutMs = 8000): Promise<Map<string, Record<string, unknown>>> {
  client.send({ typeUrl: SECRET, names: NAMES });
  const got = new Map<string, Record<string, unknown>>();
  const deadline = Date.now() + timeoutMs;
  while (!want.every((n) => got.has(n))) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`secrets ${want.join(', ')} not all received within ${timeoutMs} ms (got ${[...got.keys()].join(', ') || 'none'})`);
    const r: AdsResponse = await client.next(left);
    client.ack(r, NAMES);
    for (const res of r.resources) got.set(String(res['name']), res);
  }
  return got;
}

function leafOf(secrets: Map<string, Record<string, unknown>>): X509Certificate {
  const tls = secrets.get('default')?.['tls_certificate'] as TlsCertificate | undefined;
  assert.ok(tls, 'a default secret');
  return new X509Certificate(tls.certificate_chain.inline_string);
}

describe('secrets belong to the proven connection', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let root: Buffer;
  const clients: Array<{ close(): void }> = [];
  const tls = (sa: string) =>
    grpc.credentials.createSsl(root, readFileSync(ws.path(sa, 'key.pem')), readFileSync(ws.path(sa, 'cert-chain.pem')), {
      checkServerIdentity: () => undefined,
    });
  const connect = (address: string, id: string, credentials?: grpc.ChannelCredentials) => {
    const client = AdsTestClient.connect(address, { id, metadata: { CLUSTER_ID: 'c1', SERVICE_ACCOUNT: 'echo', NAMESPACE: 'demo' } }, credentials);
    clients.push(client);
    return client;
  };
  const csds = () => {
    const c = CsdsTestClient.connect(meridian.xdsAddress);
    clients.push(c);
    return c;
  };
  const pushes = async () => (await meridian.getJson<{ pushes: number }>('/debug/syncz')).body.pushes;

  before(async () => {
    mkdirSync(ws.path('c1'));
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], debounce: { quietMs: 10, maxMs: 100 } });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    const ca = await openTestCa(ws.path('ca'), 'cluster.local');
    root = Buffer.from(ca.rootPem);
    for (const sa of ['echo', 'other']) await writeWorkloadCerts(ca, ws.path(sa), { namespace: 'demo', serviceAccount: sa });
  });

  after(async () => {
    for (const c of clients) c.close();
    await meridian.stop();
    ws.remove();
  });

  it('gives a plaintext client that reuses a TLS sidecar node id the roots and no certificate', async () => {
    const id = 'sidecar~10.0.0.9~echo-0.demo~demo.svc.cluster.local';
    const sidecar = connect(meridian.xdsTlsAddress, id, tls('echo'));
    assert.equal(leafOf(await secretsOf(sidecar)).subjectAltName, 'URI:spiffe://cluster.local/ns/demo/sa/echo');

    const impostor = connect(meridian.xdsAddress, id);
    const got = await secretsOf(impostor, ['ROOTCA']);
    assert.equal(got.has('default'), false, 'no certificate in the first answer');
    assert.ok(await impostor.quiet(500), 'and none follows');
  });

  it('keeps a sidecar certificate when a client with its node id leaves', async () => {
    const id = 'sidecar~10.0.0.10~echo-1.demo~demo.svc.cluster.local';
    const sidecar = connect(meridian.xdsTlsAddress, id, tls('echo'));
    const issued = leafOf(await secretsOf(sidecar));
    const impostor = connect(meridian.xdsAddress, id);
    await secretsOf(impostor, ['ROOTCA']);
    impostor.close();
    for (let i = 0; i < 100; i++) {
      const syncz = await meridian.getJson<{ proxies: Array<{ node: string }> }>('/debug/syncz');
      if (syncz.body.proxies.filter((p) => p.node === id).length === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // CSDS regenerates what each connection should hold; nothing may be issued afresh.
    const [config] = await csds().fetch({ nodeIds: [{ exact: id }] });
    const row = config?.generic_xds_configs.find((r) => r.type_url === SECRET && r.name === 'default');
    assert.equal(row?.client_status, 'ACKED');
    assert.ok(await sidecar.quiet(1000), 'no certificate re-issued to the sidecar');
    sidecar.send({ typeUrl: SECRET, names: ['default'] });
    const again = await sidecar.next();
    assert.equal(leafOf(new Map(again.resources.map((r) => [String(r['name']), r]))).serialNumber, issued.serialNumber);
  });

  it('issues a sidecar its certificate when a plaintext client connected first with its node id', async () => {
    const id = 'sidecar~10.0.0.11~echo-2.demo~demo.svc.cluster.local';
    const squatter = connect(meridian.xdsAddress, id);
    await secretsOf(squatter, ['ROOTCA']);
    const sidecar = connect(meridian.xdsTlsAddress, id, tls('echo'));
    assert.equal(leafOf(await secretsOf(sidecar)).subjectAltName, 'URI:spiffe://cluster.local/ns/demo/sa/echo');
  });

  it('treats two TLS connections with one node id as two proxies, each with its own identity', async () => {
    const id = 'sidecar~10.0.0.12~echo-3.demo~demo.svc.cluster.local';
    const first = connect(meridian.xdsTlsAddress, id, tls('echo'));
    const firstLeaf = leafOf(await secretsOf(first));
    const second = connect(meridian.xdsTlsAddress, id, tls('other'));
    const secondLeaf = leafOf(await secretsOf(second));
    assert.equal(firstLeaf.subjectAltName, 'URI:spiffe://cluster.local/ns/demo/sa/echo');
    assert.equal(secondLeaf.subjectAltName, 'URI:spiffe://cluster.local/ns/demo/sa/other');
    assert.notEqual(firstLeaf.serialNumber, secondLeaf.serialNumber);
    assert.ok(await first.quiet(300), 'the first connection is not sent the second one’s certificate');
  });

  it('shows secrets in CSDS and /debug/* by name, version, status and identity only, never a key or PEM', async () => {
    const id = 'sidecar~10.0.0.13~echo-4.demo~demo.svc.cluster.local';
    const sidecar = connect(meridian.xdsTlsAddress, id, tls('echo'));
    const leaf = leafOf(await secretsOf(sidecar));

    const configs = await csds().fetch();
    const text = JSON.stringify(configs);
    assert.doesNotMatch(text, /PRIVATE KEY/, 'no private key in CSDS');
    const mine = configs.find((c) => c.node.id === id);
    const rows = mine?.generic_xds_configs.filter((r) => r.type_url === SECRET) ?? [];
    assert.deepEqual(rows.map((r) => [r.name, r.client_status]).sort(), [['ROOTCA', 'ACKED'], ['default', 'ACKED']]);
    for (const r of rows) {
      assert.equal(r.xds_config, undefined, `no body for secret ${r.name}`);
      assert.ok(r.version_info, `a version for secret ${r.name}`);
    }

    const index = await meridian.getJson<{ endpoints: string[] }>('/debug');
    for (const endpoint of index.body.endpoints) {
      const res = await fetch(`http://${meridian.httpAddress}${endpoint}?proxy=${encodeURIComponent(id)}&service=x`);
      const body = await res.text();
      assert.doesNotMatch(body, /PRIVATE KEY/, `${endpoint}: no private key`);
      assert.ok(!body.includes(leaf.toString().trim().split('\n')[1] ?? 'unset'), `${endpoint}: no certificate body`);
    }
    const dump = await meridian.getJson<{ configs: Array<Record<string, unknown>> }>(`/debug/config_dump?proxy=${encodeURIComponent(id)}`);
    const secrets = dump.body.configs.find((c) => String(c['@type']).endsWith('SecretsConfigDump')) as
      | { dynamic_active_secrets: Array<{ name: string; version_info: string; identity?: string; not_after?: string }> }
      | undefined;
    const def = secrets?.dynamic_active_secrets.find((s) => s.name === 'default');
    assert.equal(def?.identity, 'spiffe://cluster.local/ns/demo/sa/echo');
    assert.equal(def?.not_after, new Date(leaf.validTo).toISOString());
    assert.ok(def?.version_info);
  });

  it('reaches no other connection’s secret by resource name, in SotW or delta', async () => {
    const id = 'sidecar~10.0.0.15~echo-6.demo~demo.svc.cluster.local';
    const sidecar = connect(meridian.xdsTlsAddress, id, tls('echo'));
    await secretsOf(sidecar);
    const syncz = await meridian.getJson<{ proxies: Array<{ connection: string; node: string }> }>('/debug/syncz');
    const sidecarConnection = syncz.body.proxies.find((p) => p.node === id)?.connection ?? '';
    assert.ok(sidecarConnection);

    // Names an attacker can read off /debug/syncz and CSDS: the node id, the connection id.
    const names = ['default', 'ROOTCA', id, sidecarConnection, `secrets:${id}`, `default|${sidecarConnection}`, '*'];
    const sotw = connect(meridian.xdsAddress, id);
    sotw.send({ typeUrl: SECRET, names });
    const sotwAnswer = await sotw.next();
    assert.deepEqual(sotwAnswer.resources.map((r) => r['name']), ['ROOTCA']);
    sotw.ack(sotwAnswer, names);
    assert.ok(await sotw.quiet(300));

    const delta = DeltaAdsTestClient.connect(meridian.xdsAddress, { id, metadata: { CLUSTER_ID: 'c1' } });
    clients.push(delta);
    delta.send({ typeUrl: SECRET, subscribe: names });
    const deltaAnswer = await delta.next();
    assert.deepEqual(deltaAnswer.resources.map((r) => r.name), ['ROOTCA']);
    delta.ack(deltaAnswer);
    assert.ok(await delta.quiet(300));

    // Secrets have no wildcard (only LDS and CDS do): subscribing to none gets none.
    const wildcard = DeltaAdsTestClient.connect(meridian.xdsAddress, { id, metadata: { CLUSTER_ID: 'c1' } });
    clients.push(wildcard);
    wildcard.send({ typeUrl: SECRET });
    assert.ok(await wildcard.quiet(300));
  });

  it('tells connections that share a node id apart in /debug/syncz, config_dump and CSDS', async () => {
    const id = 'sidecar~10.0.0.16~echo-7.demo~demo.svc.cluster.local';
    const sidecar = connect(meridian.xdsTlsAddress, id, tls('echo'));
    await secretsOf(sidecar);
    const impostor = connect(meridian.xdsAddress, id);
    await secretsOf(impostor, ['ROOTCA']);

    const syncz = await meridian.getJson<{ proxies: Array<{ connection: string; identity: string | null }> }>(`/debug/syncz?proxy=${encodeURIComponent(id)}`);
    assert.deepEqual(syncz.body.proxies.map((p) => p.identity).sort(), ['spiffe://cluster.local/ns/demo/sa/echo', null].sort());

    const ambiguous = await meridian.getJson<{ error?: string; connections?: string[] }>(`/debug/config_dump?proxy=${encodeURIComponent(id)}`);
    assert.match(ambiguous.body.error ?? '', /2 connections hold node id/);
    assert.deepEqual([...(ambiguous.body.connections ?? [])].sort(), syncz.body.proxies.map((p) => p.connection).sort());
    const proven = syncz.body.proxies.find((p) => p.identity !== null)?.connection ?? '';
    const dump = await meridian.getJson<{ configs: Array<Record<string, unknown>> }>(`/debug/config_dump?proxy=${encodeURIComponent(proven)}`);
    const secrets = dump.body.configs.find((c) => String(c['@type']).endsWith('SecretsConfigDump')) as { dynamic_active_secrets: Array<{ name: string }> };
    assert.deepEqual(secrets.dynamic_active_secrets.map((s) => s.name).sort(), ['ROOTCA', 'default']);

    const configs = await csds().fetch({ nodeIds: [{ exact: id }] });
    // Both subscribed to `default`; only the proven connection was ever sent one.
    const sent = configs.map((c) => c.generic_xds_configs.filter((r) => r.type_url === SECRET && r.version_info).map((r) => r.name).sort());
    assert.deepEqual(sent.sort(), [['ROOTCA'], ['ROOTCA', 'default']], 'one config per connection, the impostor’s without a certificate');
  });

  it('sends one proxy its certificate without pushing to any other proxy', async () => {
    const watcher = connect(meridian.xdsAddress, 'sidecar~10.0.0.20~watcher.demo~demo.svc.cluster.local');
    await watcher.requestAck(TypeUrls.Listener);
    await watcher.requestAck(TypeUrls.Cluster);
    await new Promise((r) => setTimeout(r, 300));
    const before = await pushes();
    const sidecar = connect(meridian.xdsTlsAddress, 'sidecar~10.0.0.14~echo-5.demo~demo.svc.cluster.local', tls('echo'));
    await secretsOf(sidecar);
    await new Promise((r) => setTimeout(r, 300)); // well past the debounce window
    assert.equal(await pushes(), before, 'no debounced push for a certificate');
    assert.ok(await watcher.quiet(200));
  });
});
