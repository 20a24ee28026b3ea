import path from 'node:path';
import { CERTIFICATE_PROVIDER_INSTANCE, INBOUND_LISTENER_NAME_TEMPLATE } from '@meridian/xds';

/** gRPC xDS bootstrap for a proxyless client (grpc's xDS bootstrap format, v3). */
export interface GrpcBootstrapOptions {
  readonly nodeId: string;
  readonly server: string;
  readonly cluster?: string;
  readonly network?: string;
  readonly namespace?: string;
  /** `region/zone/subzone`; missing parts are empty. */
  readonly locality?: string;
  /**
   * A directory with Istio's workload certificate files (`cert-chain.pem`, `key.pem`,
   * `root-cert.pem`). Enables mTLS: the TLS contexts Meridian serves refer to this provider,
   * and an `XdsServer` finds its listener by the server listener name template.
   */
  readonly certDir?: string;
}

/** Istio's file names in a workload's certificate directory. */
const WorkloadCertFile = {
  CertChain: 'cert-chain.pem',
  Key: 'key.pem',
  Root: 'root-cert.pem',
} as const;

export function grpcBootstrap(options: GrpcBootstrapOptions): object {
  const [region = '', zone = '', subZone = ''] = (options.locality ?? '').split('/');
  const metadata: Record<string, string> = {};
  if (options.cluster) metadata['CLUSTER_ID'] = options.cluster;
  if (options.network) metadata['NETWORK'] = options.network;
  if (options.namespace) metadata['NAMESPACE'] = options.namespace;
  return {
    xds_servers: [
      {
        server_uri: options.server,
        channel_creds: [{ type: 'insecure' }],
        // Without this a gRPC client drops a listener or cluster that a response leaves out,
        // and some clients never pick it up again (DESIGN.md §7).
        server_features: ['xds_v3', 'ignore_resource_deletion'],
      },
    ],
    node: {
      id: options.nodeId,
      locality: { region, zone, sub_zone: subZone },
      metadata,
    },
    ...(options.certDir === undefined ? {} : certificateSection(options.certDir)),
  };
}

function certificateSection(dir: string): object {
  return {
    certificate_providers: {
      [CERTIFICATE_PROVIDER_INSTANCE]: {
        // The only plugin grpc-js-xds knows; it re-reads the files, so rotation needs no restart.
        plugin_name: 'file_watcher',
        config: {
          certificate_file: path.join(dir, WorkloadCertFile.CertChain),
          private_key_file: path.join(dir, WorkloadCertFile.Key),
          ca_certificate_file: path.join(dir, WorkloadCertFile.Root),
          refresh_interval: '60s',
        },
      },
    },
    server_listener_resource_name_template: INBOUND_LISTENER_NAME_TEMPLATE,
  };
}
