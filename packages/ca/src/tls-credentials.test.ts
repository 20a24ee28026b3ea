import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '@meridian/model';
import { createAuthority } from './authority.ts';
import { createSelfSignedRoot } from './ca-certificates.ts';
import { CertificateClient } from './certificate-client.ts';
import { addCertificateService } from './certificate-service.ts';
import { SvidSigner } from './signer.ts';
import { optionalClientCertCredentials, TlsMaterialProvider, type TlsMaterial } from './tls-credentials.ts';

const NAME = 'meridian.istio-system.svc';

async function material(): Promise<TlsMaterial> {
  const root = await createSelfSignedRoot({ trustDomain: 'cluster.local' });
  const authority = createAuthority({ certDer: root.certDer, key: root.key });
  const signer = new SvidSigner({ trustDomain: 'cluster.local', authority });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serving = await signer.signServingCertificate({ publicKey, dnsNames: [NAME] });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certChainPem: serving.certChainPem.slice(0, -1).join(''),
    caPem: authority.chainAfterLeafPem.join(''),
  };
}

/** The status of an unauthenticated call: UNAUTHENTICATED proves the TLS handshake worked. */
async function statusVia(address: string, caPem: string): Promise<grpc.status> {
  const client = new CertificateClient({
    address,
    credentials: grpc.credentials.createSsl(Buffer.from(caPem)),
    channelOptions: { 'grpc.ssl_target_name_override': NAME },
  });
  try {
    await client.createCertificate({ csr: 'x', deadlineMs: 3000 });
    return grpc.status.OK;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  } finally {
    client.close();
  }
}

describe('TlsMaterialProvider', () => {
  it('swaps the serving certificate on a running listener', async () => {
    const first = await material();
    const second = await material();
    const provider = new TlsMaterialProvider({ material: first });
    const server = new grpc.Server();
    addCertificateService(server, { signer: new SvidSigner({ trustDomain: 'cluster.local' }), authenticators: [], logger: silentLogger() });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', optionalClientCertCredentials(provider), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      const address = `127.0.0.1:${port}`;
      assert.equal(await statusVia(address, first.caPem), grpc.status.UNAUTHENTICATED);
      provider.update(second);
      assert.equal(await statusVia(address, second.caPem), grpc.status.UNAUTHENTICATED);
      assert.equal(await statusVia(address, first.caPem), grpc.status.UNAVAILABLE, 'the old root no longer matches');
    } finally {
      server.forceShutdown();
    }
  });
});
