/**
 * SDS for Envoy sidecars: the two secrets their TLS contexts name (Istio's `default`, the
 * workload's certificate and key, and `ROOTCA`, the roots), served over the ADS stream.
 *
 * `MeshResources` keeps each connected proxy's secrets (issued asynchronously, refreshed on
 * a timer) and serves them as the `Secret` type on the proxy's own ADS stream.
 *
 * Secrets are per proxy (a key belongs to one workload), so they are never put in the shared
 * resource cache, and their versions hash the certificate only, never the key.
 */
import { createHash } from 'node:crypto';
import type { ProxyNode } from '@meridian/model';
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

/**
 * Where secret content comes from; the server fills it with the CA. Which identity a proxy
 * gets is the server's decision (e.g. the SPIFFE ID its client certificate proved on 15012),
 * never something this package infers from node metadata.
 */
export interface SecretSource {
  /** The proxy's certificate, or undefined when it may not have one (e.g. unauthenticated). */
  workloadCertificate(proxy: ProxyNode): Promise<WorkloadCertificate> | undefined;
  /** PEM roots a peer's chain must end in, for the given trust domain (default: the mesh's). */
  rootsPem(trustDomain?: string): string;
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
 * The secrets for one proxy: `ROOTCA` always, `default` when the source issues a certificate.
 * A source that fails leaves `default` out (Envoy keeps warming the TLS contexts that name it)
 * rather than failing the roots too.
 */
export async function generateSecrets(proxy: ProxyNode, source: SecretSource, trustDomain?: string): Promise<GeneratedResource[]> {
  loadSidecarProtos();
  const out: GeneratedResource[] = [];
  const pending = source.workloadCertificate(proxy);
  const cert = pending ? await pending : undefined;
  if (cert) out.push(encodeSecret(IDENTITY_CERTIFICATE_NAME, buildIdentitySecret(cert), cert.certChainPem));
  const roots = source.rootsPem(trustDomain);
  out.push(encodeSecret(ROOT_CERTIFICATE_NAME, buildRootSecret(roots), roots));
  return out;
}

function encodeSecret(name: string, value: object, versionInput: string): GeneratedResource {
  const any = encodeAny(SECRET_TYPE_URL, encodeMessage(SECRET_TYPE_URL, value));
  // The version says whether the certificate changed; hashing the key would put a digest of
  // secret material into logs and debug output.
  const version = createHash('sha256').update(name).update('\0').update(versionInput).digest('base64url').slice(0, 16);
  return { name, any, version };
}
