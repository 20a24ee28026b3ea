import * as grpc from '@grpc/grpc-js';
import { CLUSTER_ID_METADATA } from './authn/kube-token.ts';
import type { CertificateRequestMessage, CertificateResponseMessage } from './certificate-proto.ts';
import { certificateServiceDefinition } from './certificate-service.ts';

export interface CertificateClientOptions {
  /** `host:port` of a certificate service. */
  readonly address: string;
  /** TLS with the CA's root (and, for renewal, the SVID as client certificate), or insecure. */
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ChannelOptions;
}

export interface CreateCertificateRequest {
  /** PEM PKCS#10. */
  readonly csr: string;
  /** 0 or absent: the server's default lifetime. */
  readonly validitySeconds?: number;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Sent as `clusterid`: the cluster whose API should review the token. */
  readonly clusterId?: string;
  readonly deadlineMs?: number;
}

/**
 * A client of `IstioCertificateService`, speaking what Istio's agent speaks. For `meridian`
 * tools and tests. Failures reject with grpc-js's `ServiceError` (its `code` is the status).
 */
export class CertificateClient {
  readonly #client: grpc.Client;
  readonly #method: grpc.MethodDefinition<CertificateRequestMessage, CertificateResponseMessage>;

  constructor(options: CertificateClientOptions) {
    this.#client = new grpc.Client(options.address, options.credentials, options.channelOptions);
    const method = certificateServiceDefinition()['CreateCertificate'];
    if (method === undefined) throw new Error('CreateCertificate missing from the certificate service definition');
    this.#method = method as grpc.MethodDefinition<CertificateRequestMessage, CertificateResponseMessage>;
  }

  /** The issued chain: leaf first, root last, one PEM certificate per element. */
  createCertificate(req: CreateCertificateRequest): Promise<string[]> {
    const metadata = new grpc.Metadata();
    if (req.token !== undefined) metadata.set('authorization', `Bearer ${req.token}`);
    if (req.clusterId !== undefined) metadata.set(CLUSTER_ID_METADATA, req.clusterId);
    const m = this.#method;
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        { csr: req.csr, validity_duration: String(req.validitySeconds ?? 0) },
        metadata,
        { deadline: Date.now() + (req.deadlineMs ?? 10_000) },
        (err, res) => (err ? reject(err) : resolve([...(res?.cert_chain ?? [])])),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}
