import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { createAuthority } from './authority.ts';
import { createSelfSignedRoot } from './ca-certificates.ts';
import { SvidSigner } from './signer.ts';
import { parseSpiffeId } from './spiffe-id.ts';
import { makeCsr } from './testing/index.ts';
import { trustBundlePem } from './trust-bundle.ts';

interface Svid {
  readonly key: string;
  readonly cert: string;
  readonly roots: string[];
}

async function svidFrom(trustDomain: string, ns: string, sa: string, signer?: SvidSigner): Promise<Svid & { signer: SvidSigner }> {
  let s = signer;
  if (s === undefined) {
    const root = await createSelfSignedRoot({ trustDomain });
    s = new SvidSigner({ trustDomain, authority: createAuthority({ certDer: root.certDer, key: root.key }) });
  }
  const csr = await makeCsr({ uris: [`spiffe://${trustDomain}/ns/${ns}/sa/${sa}`] });
  const issued = await s.sign({ csr: csr.pem });
  const authority = s.authority;
  assert.ok(authority);
  return { key: csr.keyPem, cert: issued.certChainPem.slice(0, -1).join(''), roots: trustBundlePem(authority.rootsDer), signer: s };
}

/** The peer's single SPIFFE ID from its URI SAN, as a workload (or Meridian on 15012) reads it. */
function peerSpiffeId(cert: tls.PeerCertificate): string | undefined {
  const uris = (cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('URI:'));
  const uri = uris.length === 1 ? uris[0]?.slice(4) : undefined;
  return uri !== undefined && parseSpiffeId(uri).ok ? uri : undefined;
}

async function handshake(server: Svid, client: Svid, expectServer: string): Promise<{ serverSawClient?: string; clientSawServer?: string; error?: Error }> {
  const seen: { serverSawClient?: string } = {};
  const srv = tls.createServer({ key: server.key, cert: server.cert, ca: server.roots, requestCert: true, rejectUnauthorized: true }, (socket) => {
    const id = peerSpiffeId(socket.getPeerCertificate());
    if (id !== undefined) seen.serverSawClient = id;
    socket.end('hello');
  });
  srv.on('tlsClientError', () => undefined);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  try {
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      key: client.key,
      cert: client.cert,
      ca: client.roots,
      // SPIFFE authenticates by ID, not host name.
      checkServerIdentity: (_host, cert) => (peerSpiffeId(cert) === expectServer ? undefined : new Error(`unexpected server ID ${peerSpiffeId(cert) ?? '(none)'}`)),
    });
    const result = await new Promise<{ clientSawServer?: string; error?: Error }>((resolve) => {
      sock.on('secureConnect', () => {
        const id = peerSpiffeId(sock.getPeerCertificate());
        sock.once('data', () => resolve(id === undefined ? {} : { clientSawServer: id }));
      });
      sock.on('error', (error) => resolve({ error }));
      sock.on('close', () => resolve({ error: new Error('closed before data') }));
    });
    sock.destroy();
    return { ...seen, ...result };
  } finally {
    srv.close();
  }
}

describe('mTLS between SVIDs', () => {
  it('two SVIDs from one CA authenticate each other by SPIFFE ID', async () => {
    const server = await svidFrom('cluster.local', 'backend', 'api');
    const client = await svidFrom('cluster.local', 'frontend', 'web', server.signer);
    const r = await handshake(server, client, 'spiffe://cluster.local/ns/backend/sa/api');
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.clientSawServer, 'spiffe://cluster.local/ns/backend/sa/api');
    assert.equal(r.serverSawClient, 'spiffe://cluster.local/ns/frontend/sa/web');
  });

  it('a client SVID from another root and trust domain is refused', async () => {
    const server = await svidFrom('cluster.local', 'backend', 'api');
    const foreign = await svidFrom('other.example', 'frontend', 'web');
    // The foreign client trusts our root, so only the server's check can stop it.
    const r = await handshake(server, { ...foreign, roots: server.roots }, 'spiffe://cluster.local/ns/backend/sa/api');
    assert.ok(r.error, 'handshake must fail');
    assert.equal(r.serverSawClient, undefined);
  });

  it('a server SVID from another root is refused by the client', async () => {
    const ours = await svidFrom('cluster.local', 'frontend', 'web');
    const foreignServer = await svidFrom('cluster.local', 'backend', 'api');
    const r = await handshake({ ...foreignServer, roots: ours.roots.concat(foreignServer.roots) }, ours, 'spiffe://cluster.local/ns/backend/sa/api');
    assert.ok(r.error);
    assert.match(r.error.message, /self[- ]signed|unable to verify|certificate/i);
  });

  it('the client refuses a valid server with the wrong SPIFFE ID', async () => {
    const server = await svidFrom('cluster.local', 'backend', 'api');
    const client = await svidFrom('cluster.local', 'frontend', 'web', server.signer);
    const r = await handshake(server, client, 'spiffe://cluster.local/ns/backend/sa/other');
    assert.match(r.error?.message ?? '', /unexpected server ID/);
  });
});
