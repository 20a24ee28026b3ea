import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { packedAsset } from '@meridian/model';

/**
 * The repository's `proto/` directory, or the copy the packed CLI ships. The only place that
 * knows where it lies relative to this package, so moving either needs one edit.
 */
export const PROTO_DIR: string = packedAsset(import.meta.url, 'proto/') ?? fileURLToPath(new URL('../../../proto/', import.meta.url));

export const CERTIFICATE_PROTO_FILE = 'istio/v1/auth/ca.proto';
export const CERTIFICATE_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';

/** Field names stay snake_case (`cert_chain`, `validity_duration`), as on the wire and in Istio. */
export interface CertificateRequestMessage {
  readonly csr?: string;
  /** int64 seconds; decoded as a decimal string so no precision is lost before we range-check it. */
  readonly validity_duration?: string | number;
  readonly metadata?: unknown;
}

export interface CertificateResponseMessage {
  readonly cert_chain: readonly string[];
}

let cached: protoLoader.PackageDefinition | undefined;

/** Loads `ca.proto` once; both the service and its clients use this definition. */
export function certificatePackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(CERTIFICATE_PROTO_FILE, {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return cached;
}
