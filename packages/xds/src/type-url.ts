/** The xDS resource types Meridian serves. */
export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  Route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  Endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  /** SDS over ADS: a sidecar's certificate (`default`) and roots (`ROOTCA`). */
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

export const TYPE_URLS: readonly TypeUrl[] = Object.values(TypeUrl);

export function isTypeUrl(value: string): value is TypeUrl {
  return (TYPE_URLS as readonly string[]).includes(value);
}

/** Short names for logs, metrics and debug output. */
export const TYPE_SHORT_NAME: Record<TypeUrl, string> = {
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.Route]: 'RDS',
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.Endpoint]: 'EDS',
  [TypeUrl.Secret]: 'SDS',
};

/** Types for which SotW responses carry every subscribed resource (a missing one is deleted). */
export function requiresFullStateInSotw(typeUrl: TypeUrl): boolean {
  return typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.Cluster;
}

/**
 * Make-before-break: secrets (which clusters and listeners name) first, then clusters before
 * endpoints before listeners before routes.
 */
export const PUSH_ORDER: readonly TypeUrl[] = [TypeUrl.Secret, TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route];
