/**
 * SDS for Envoy sidecars: the two secrets their TLS contexts name (Istio's `default`, the
 * workload's certificate and key, and `ROOTCA`, the roots), served over the ADS stream.
 *
 * A secret belongs to one ADS connection: the one whose transport proved the identity it is
 * issued for (a verified client SVID on the TLS port). It is never looked up by node id,
 * which any client may claim, so a second connection with the same id is a different proxy
 * with secrets of its own (or none). Who issues and renews them is the server's business
 * (the `SecretSource` port); this package only serves each connection its own, and encodes
 * them outside the shared resource cache.
 */
import { createHash } from 'node:crypto';
import { loadSidecarProtos } from './envoy-protos.ts';
import { IDENTITY_CERTIFICATE_NAME, ROOT_CERTIFICATE_NAME } from './mtls.ts';
import { encodeMessage } from './protos.ts';
import type { GeneratedResource } from './resource-source.ts';
import { TypeUrl } from './type-url.ts';
import { encodeAny } from './wire.ts';

export const SECRET_TYPE_URL = TypeUrl.Secret;

export interface WorkloadCertificate {
  /** Leaf first, then intermediates (the root may follow). */
  readonly certChainPem: string;
  readonly keyPem: string;
}

/** One ADS connection as the secret source sees it. */
export interface SecretSubject {
  /** The connection id (unique per stream, never reused). */
  readonly connection: string;
  /** The SPIFFE ID its transport proved; undefined on plaintext streams. */
  readonly identity: string | undefined;
}

/**
 * Where secret content comes from; the server fills it with the CA. It issues certificates
 * per connection, for the identity the connection proved, and tells the ADS server when a
 * connection's secrets (or everyone's roots) changed (`AdsServer.refresh`).
 */
export interface SecretSource {
  /**
   * The connection's certificate once issued, else undefined: not yet (asking starts the
   * issuance for a proven connection) or never (no proven identity).
   */
  workloadCertificate(subject: SecretSubject): WorkloadCertificate | undefined;
  /** PEM roots a peer's chain must end in. */
  rootsPem(): string;
  /** The connection ended: forget its certificate and stop renewing it. */
  release(connection: string): void;
}

export function buildIdentitySecret(cert: WorkloadCertificate): object {
  return {
    name: IDENTITY_CERTIFICATE_NAME,
    tls_certificate: {
      certificate_chain: { inline_string: cert.certChainPem },
      private_key: { inline_string: cert.keyPem },
    },
  };
}

export function buildRootSecret(rootsPem: string): object {
  return { name: ROOT_CERTIFICATE_NAME, validation_context: { trusted_ca: { inline_string: rootsPem } } };
}

/**
 * The secrets of one connection: `ROOTCA` always, `default` when it has a certificate. A
 * connection without one yet gets the roots alone (Envoy keeps warming the TLS contexts
 * that name `default` until it follows). Built afresh on each call: nothing holding a key
 * is kept beyond the source's own copy.
 */
export function secretResources(cert: WorkloadCertificate | undefined, rootsPem: string): GeneratedResource[] {
  loadSidecarProtos();
  const out: GeneratedResource[] = [];
  if (cert) out.push(encodeSecret(IDENTITY_CERTIFICATE_NAME, buildIdentitySecret(cert), cert.certChainPem));
  out.push(encodeSecret(ROOT_CERTIFICATE_NAME, buildRootSecret(rootsPem), rootsPem));
  return out;
}

function encodeSecret(name: string, value: object, versionInput: string): GeneratedResource {
  const any = encodeAny(SECRET_TYPE_URL, encodeMessage(SECRET_TYPE_URL, value));
  // The version says whether the certificate changed; hashing the key would put a digest of
  // secret material into logs and debug output.
  const version = createHash('sha256').update(name).update('\0').update(versionInput).digest('base64url').slice(0, 16);
  return { name, any, version };
}
