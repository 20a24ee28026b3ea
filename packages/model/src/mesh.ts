/** The mesh vocabulary shared by every package. Everything here is plain, immutable data. */

/** A cluster's name as configured (`clusters[].id`), or as a remote secret's data key. */
export type ClusterId = string;
/** A network name; endpoints on different networks reach each other only through gateways. */
export type NetworkId = string;

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

export const EMPTY_LOCALITY: Locality = Object.freeze({ region: '', zone: '', subzone: '' });

/**
 * How an endpoint may be used. `draining` is a terminating endpoint that still serves:
 * it keeps existing traffic but gets no new traffic.
 */
export const Health = {
  Healthy: 'healthy',
  Unhealthy: 'unhealthy',
  Draining: 'draining',
} as const;
export type Health = (typeof Health)[keyof typeof Health];

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  /** The port's name; `''` for the single unnamed port a Service may have. */
  readonly name: string;
  readonly port: number;
  /** The Service's targetPort (number or container port name), for conflict reports. */
  readonly targetPort?: number | string;
  readonly protocol: PortProtocol;
  /** `appProtocol` or the protocol prefix of the port name (`grpc-echo` → `grpc`), when known. */
  readonly appProtocol?: string;
}

/** One cluster's view of a service, before merging. */
export interface ClusterService {
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
  readonly cluster: ClusterId;
  readonly ports: readonly ServicePort[];
  /** ClusterIP addresses; empty for headless services. */
  readonly addresses: readonly string[];
}

/** A service merged across every cluster that has it (namespace sameness). */
export interface Service {
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
  readonly ports: readonly ServicePort[];
  /** Clusters that define the service, sorted. */
  readonly clusters: readonly ClusterId[];
  /** ClusterIP addresses per cluster. */
  readonly addresses: Readonly<Record<ClusterId, readonly string[]>>;
  /** Service accounts of the endpoints behind it, across clusters, sorted. */
  readonly serviceAccounts: readonly string[];
  /** Set when a ServiceEntry defines the service rather than a cluster's Service. */
  readonly entry?: ServiceEntryInfo;
}

/** How a ServiceEntry's endpoints are found (`spec.resolution`). */
export const EntryResolution = {
  /** No endpoints: connections go where the application sent them. */
  None: 'NONE',
  /** The entry's endpoints, by IP address (sent over EDS like any service's). */
  Static: 'STATIC',
  /** The client resolves the endpoints' names (the host itself without endpoints) and uses every address. */
  Dns: 'DNS',
  /** The client resolves one name and uses one address per connection. */
  DnsRoundRobin: 'DNS_ROUND_ROBIN',
} as const;
export type EntryResolution = (typeof EntryResolution)[keyof typeof EntryResolution];

/** What a service defined by a ServiceEntry carries besides what every service does. */
export interface ServiceEntryInfo {
  /** `namespace/name` of the ServiceEntry. */
  readonly source: string;
  readonly resolution: EntryResolution;
  /** MESH_EXTERNAL: outside the mesh, so never spoken to with the mesh's mTLS. */
  readonly external: boolean;
  /** The namespaces whose callers see it (`exportTo` resolved); undefined: every namespace. */
  readonly visibleIn?: readonly string[];
}

/** A service a ServiceEntry defines, with its endpoints (IP addresses, or names to resolve for DNS). */
export interface EntryService {
  readonly service: Service;
  readonly endpoints: readonly Endpoint[];
  /**
   * `workloadSelector`: the endpoints are the workloads of the entry's namespace with these
   * labels (pods and WorkloadEntries, in every cluster), on each port's target port; the
   * push snapshot finds them in the registry.
   */
  readonly workloadSelector?: { readonly labels: Readonly<Record<string, string>>; readonly targetPorts: ReadonlyMap<string, number> };
}

/** Whether callers in `namespace` see a service (a ServiceEntry's `exportTo`; cluster services are seen by all). */
export function serviceVisibleIn(service: Pick<Service, 'entry'>, namespace: string): boolean {
  const visibleIn = service.entry?.visibleIn;
  return !visibleIn || visibleIn.includes(namespace);
}

export interface Endpoint {
  readonly address: string;
  /** The port the workload listens on (the EndpointSlice port). */
  readonly port: number;
  /** The Service port name this endpoint port belongs to (`''` for an unnamed port). */
  readonly portName: string;
  readonly cluster: ClusterId;
  readonly network: NetworkId;
  readonly locality: Locality;
  readonly health: Health;
  readonly serviceAccount?: string;
  /** `namespace/name` of the Pod behind it, when known. */
  readonly pod?: string;
  /** The Pod's (or WorkloadEntry's) labels, when it has any: what subsets and workload selectors match. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly nodeName?: string;
  /**
   * The endpoint's cluster has been unreachable for longer than its TTL: it is still served
   * (never silently dropped) but ranks below every endpoint of a cluster that is up.
   */
  readonly stale?: boolean;
}

/** An east-west gateway through which other networks reach a network's endpoints. */
export interface NetworkGateway {
  readonly network: NetworkId;
  readonly address: string;
  readonly port: number;
  /** Where it was learned: `config`, or `service:<cluster>/<namespace>/<name>`. */
  readonly source: string;
}

/** A connected proxy, as read from its xDS node (and, over mTLS, its certificate). */
export interface ProxyNode {
  readonly id: string;
  readonly type: ProxyType;
  readonly cluster: ClusterId;
  readonly network: NetworkId;
  readonly namespace: string;
  readonly locality: Locality;
  readonly ipAddresses: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  /**
   * The SPIFFE ID the transport proved (a verified client SVID on the TLS port). Absent on
   * plaintext streams: metadata alone never earns a certificate.
   */
  readonly verifiedIdentity?: string;
}

export const ProxyType = {
  Sidecar: 'sidecar',
  Router: 'router',
  ProxylessGrpc: 'grpc',
} as const;
export type ProxyType = (typeof ProxyType)[keyof typeof ProxyType];

export function localityString(l: Locality): string {
  return `${l.region}/${l.zone}/${l.subzone}`;
}
