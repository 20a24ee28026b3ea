import { X509Certificate } from 'node:crypto';
import { errorMessage } from '@meridian/model';
import { parseWorkloadId } from '@meridian/ca';
import type { PeerIdentifier } from '@meridian/xds';

/**
 * Identity of an ADS stream on the TLS port, from its client SVID. grpc-js fills in the
 * peer certificate only once the handshake verified it against our roots, so what remains is
 * to read its single SPIFFE URI SAN and check the trust domain.
 */
export function svidPeerIdentity(trustDomain: string): PeerIdentifier {
  return (call) => {
    const raw = call.getAuthContext().sslPeerCertificate?.raw;
    if (!raw) return { error: 'no verified client certificate' };
    try {
      const cert = new X509Certificate(raw);
      if (new Date(cert.validTo).getTime() < Date.now()) return { error: 'client certificate expired' };
      const uris = (cert.subjectAltName ?? '')
        .split(', ')
        .filter((s) => s.startsWith('URI:'))
        .map((s) => s.slice(4));
      if (uris.length !== 1 || uris[0] === undefined) return { error: `expected exactly one URI SAN, got ${uris.length}` };
      const id = parseWorkloadId(uris[0], trustDomain);
      return { trustDomain: id.trustDomain, namespace: id.namespace, serviceAccount: id.serviceAccount };
    } catch (err) {
      return { error: errorMessage(err) };
    }
  };
}
