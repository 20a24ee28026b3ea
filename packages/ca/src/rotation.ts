import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { CaAuthority } from './authority.ts';
import { certTrustOf, type CertTrust } from './authn/client-cert.ts';

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Client-certificate trust across a switch of signing material (Istio-style root rotation:
 * root-cert.pem holds old and new roots while ca-cert.pem already moved to the new CA).
 *
 * A renewing workload is checked against the leaf alone (grpc-js hands over no chain), so
 * its path to a root must be rebuilt from intermediates we know. Without this, every SVID
 * issued by the previous intermediate would stop renewing by certificate the moment the
 * files switch, although its root is still trusted. The previous intermediates are kept for
 * as long as they still lead to a current root; removing the old root from root-cert.pem
 * drops them, so nothing is trusted longer than the operator's bundle says.
 */
export function rotatedCertTrust(previous: CertTrust | undefined, next: CaAuthority, now: number = Date.now()): CertTrust {
  const current = certTrustOf(next);
  const roots = current.rootsDer.map((d) => new X509Certificate(Buffer.from(d)));
  const kept: Array<{ der: Buffer; cert: X509Certificate }> = (current.intermediatesDer ?? []).map((d) => ({
    der: Buffer.from(d),
    cert: new X509Certificate(Buffer.from(d)),
  }));
  const candidates = (previous?.intermediatesDer ?? [])
    .map((d) => Buffer.from(d))
    .filter((d) => !kept.some((k) => k.der.equals(d)))
    .map((der) => ({ der, cert: new X509Certificate(der) }))
    .filter((c) => Date.parse(c.cert.validTo) >= now);
  // Fixed point: an old intermediate may hang below another old one rather than a root.
  for (let progress = true; progress; ) {
    progress = false;
    for (const c of candidates) {
      if (kept.includes(c)) continue;
      if (roots.some((r) => signedBy(c.cert, r)) || kept.some((k) => signedBy(c.cert, k.cert))) {
        kept.push(c);
        progress = true;
      }
    }
  }
  return { rootsDer: current.rootsDer, intermediatesDer: kept.map((k) => k.der) };
}
