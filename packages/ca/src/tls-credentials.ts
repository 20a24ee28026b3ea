import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';

export interface TlsMaterial {
  /** The server's private key, PEM. */
  readonly keyPem: string;
  /** The server's certificate followed by any intermediates, PEM. */
  readonly certChainPem: string;
  /** Roots client certificates must chain to, PEM. */
  readonly caPem: string;
}

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * Serving material for grpc-js that can be swapped at run time (CA rotation, serving-cert
 * renewal) without restarting the listener: grpc-js rebuilds its TLS context on each update.
 */
export class TlsMaterialProvider implements grpc.experimental.CertificateProvider {
  #material: TlsMaterial;
  readonly #ca = new Set<CaListener>();
  readonly #identity = new Set<IdentityListener>();

  constructor(options: { readonly material: TlsMaterial }) {
    this.#material = options.material;
  }

  update(material: TlsMaterial): void {
    this.#material = material;
    for (const l of this.#ca) l(this.#caUpdate());
    for (const l of this.#identity) l(this.#identityUpdate());
  }

  // The first update is deferred: grpc-js registers its own watcher only after adding these
  // listeners, so an update delivered synchronously would be lost and every handshake dropped.
  addCaCertificateListener(listener: CaListener): void {
    this.#ca.add(listener);
    queueMicrotask(() => {
      if (this.#ca.has(listener)) listener(this.#caUpdate());
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#ca.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.add(listener);
    queueMicrotask(() => {
      if (this.#identity.has(listener)) listener(this.#identityUpdate());
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.delete(listener);
  }

  #caUpdate(): grpc.experimental.CaCertificateUpdate {
    return { caCertificate: Buffer.from(this.#material.caPem) };
  }

  #identityUpdate(): grpc.experimental.IdentityCertificateUpdate {
    return { certificate: Buffer.from(this.#material.certChainPem), privateKey: Buffer.from(this.#material.keyPem) };
  }
}

/**
 * Port 15012's credentials: a client certificate is requested and verified when offered, but
 * not required, so agents without an SVID yet can still come with a token. (grpc-js's
 * `ServerCredentials.createSsl(..., true)` would refuse them at the handshake; with `false`
 * it never asks for a certificate, so renewal by SVID could not work.) grpc-js reports the
 * peer certificate in `call.getAuthContext()` only when it verified against `caPem`.
 */
export function optionalClientCertCredentials(provider: TlsMaterialProvider): grpc.ServerCredentials {
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
