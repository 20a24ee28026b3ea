import { generateKeyPairSync } from 'node:crypto';
import { createCsr, type SvidSigner } from '@meridian/ca';
import type { ProxyNode } from '@meridian/model';
import type { SecretSource } from '@meridian/xds';

/**
 * SDS without an extra daemon: a sidecar connected on the TLS port has proven its identity
 * with its SVID, so Meridian issues it a fresh SVID for exactly that identity (new key, same
 * CA path as the certificate API) and serves it as the `default` secret on the same stream.
 * Plaintext streams get only the roots: node metadata never earns a certificate.
 */
export function caSecretSource(ca: { readonly signer: SvidSigner; trustBundleFor(trustDomain?: string): unknown; trustBundlePem(): string }): SecretSource {
  return {
    workloadCertificate(proxy: ProxyNode) {
      const identity = proxy.verifiedIdentity;
      if (!identity) return undefined;
      return (async () => {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const csr = createCsr({ key: privateKey, uris: [identity] });
        const issued = await ca.signer.sign({ csr: csr.pem });
        return { certChainPem: issued.certChainPem.join(''), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
      })();
    },
    rootsPem: () => ca.trustBundlePem(),
  };
}
