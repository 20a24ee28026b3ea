/** gRPC xDS bootstrap for a proxyless client (grpc's xDS bootstrap format, v3). */
export interface GrpcBootstrapOptions {
  readonly nodeId: string;
  readonly server: string;
  readonly cluster?: string;
  readonly network?: string;
  readonly namespace?: string;
  /** `region/zone/subzone`; missing parts are empty. */
  readonly locality?: string;
}

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
  };
}
