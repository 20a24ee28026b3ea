import type { ClusterId, Endpoint, NetworkGateway, NetworkId, Service } from './mesh.ts';

/** Read side of the merged registry: what the xDS generators need to know about the mesh. */
export interface ServiceDiscovery {
  /** Every merged service, sorted by hostname. The array and its items must not be mutated. */
  services(): readonly Service[];
  service(hostname: string): Service | undefined;
  /** Endpoints of a service from every cluster, sorted by cluster then address. */
  endpoints(hostname: string): readonly Endpoint[];
  /** Clusters the registry holds, sorted. */
  clusterIds(): readonly ClusterId[];
  /** Gateways of a network, from config and from Services labelled with the network. */
  networkGateways(network: NetworkId): readonly NetworkGateway[];
  /** Every network's gateways: configured ones first, then each cluster's in ID order. */
  allNetworkGateways(): readonly NetworkGateway[];
}

/**
 * Istio's and the Gateway API's policy kinds (`packages/policy` validates and compiles them):
 * the keys a policy change is pushed with.
 */
export const PolicyKind = {
  VirtualService: 'VirtualService',
  DestinationRule: 'DestinationRule',
  ServiceEntry: 'ServiceEntry',
  Sidecar: 'Sidecar',
  PeerAuthentication: 'PeerAuthentication',
  AuthorizationPolicy: 'AuthorizationPolicy',
  RequestAuthentication: 'RequestAuthentication',
  Telemetry: 'Telemetry',
  HTTPRoute: 'HTTPRoute',
  GRPCRoute: 'GRPCRoute',
} as const;
export type PolicyKind = (typeof PolicyKind)[keyof typeof PolicyKind];

/**
 * The kinds of configuration a push can name. Service and Endpoints keys name a service by
 * its hostname (as Istio keys a ServiceEntry); a Gateway key names the cluster whose
 * east-west gateways changed; a policy key names the object (kind, namespace, name).
 */
export const ConfigKind = {
  ...PolicyKind,
  /** The service's definition changed (ports, addresses, clusters): anything built from it may change, its endpoints included. */
  Service: 'Service',
  /** Only the service's endpoints changed. */
  Endpoints: 'Endpoints',
  /** A cluster's east-west gateways changed: how every remote endpoint is reached may change. */
  Gateway: 'Gateway',
  /** A workload's certificate or the roots changed (served per connection, never as a mesh push). */
  Secret: 'Secret',
} as const;
export type ConfigKind = (typeof ConfigKind)[keyof typeof ConfigKind];

/** One changed object: `{ kind: 'Service', namespace: 'demo', name: 'echo.demo.svc.cluster.local' }`. */
export interface ConfigKey {
  readonly kind: ConfigKind;
  readonly namespace: string;
  readonly name: string;
  /**
   * A DestinationRule's key: the hostnames its old and new versions name, when that is all
   * they can reach (no wildcard). Absent: any host may be affected.
   */
  readonly hosts?: readonly string[];
}

/** Why a push happened, as logs and `/debug/syncz` show it: `<reason>@<cluster>` (`pushReason`). */
export const PushReason = {
  Services: 'services',
  Endpoints: 'endpoints',
  Gateways: 'gateways',
  Policy: 'policy',
} as const;
export type PushReason = (typeof PushReason)[keyof typeof PushReason];

export function pushReason(reason: PushReason, cluster: ClusterId): string {
  return `${reason}@${cluster}`;
}

/**
 * What changed, so a push can touch only what depends on it (Istio's PushRequest).
 * `full`: a definition changed (Service keys; every type may change); `endpoints`: only
 * endpoint sets changed (Endpoints and Gateway keys), the incremental path.
 */
export interface PushRequest {
  readonly kind: 'full' | 'endpoints';
  /** The changed objects, each once; empty with `kind: 'full'` means everything. */
  readonly configs: readonly ConfigKey[];
  readonly reasons: readonly string[];
  /** When the first change behind this request happened (ms since epoch), for convergence time. */
  readonly since?: number;
}

/** The port through which discovery tells the xDS side that something changed. */
export interface XdsUpdater {
  configUpdate(request: PushRequest): void;
}

export function configKeyId(key: ConfigKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

/**
 * Keys for services named by hostname. The namespace is the hostname's second label
 * (`name.namespace.svc.<domain>`), empty for a hostname of another form.
 */
export function hostnameKeys(kind: typeof ConfigKind.Service | typeof ConfigKind.Endpoints, hostnames: Iterable<string>): ConfigKey[] {
  return [...hostnames].map((name) => ({ kind, namespace: name.split('.')[1] ?? '', name }));
}

/** Merges two requests: a full request absorbs an endpoints one; an empty full set means all. */
export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const kind = a.kind === 'full' || b.kind === 'full' ? 'full' : 'endpoints';
  const everything = (a.kind === 'full' && a.configs.length === 0) || (b.kind === 'full' && b.configs.length === 0);
  const reasons = [...new Set([...a.reasons, ...b.reasons])];
  const since = Math.min(a.since ?? Infinity, b.since ?? Infinity);
  return { kind, configs: everything ? [] : uniqueKeys([...a.configs, ...b.configs]), reasons, ...(Number.isFinite(since) ? { since } : {}) };
}

/**
 * One key per object. Two keys of one object may name different hosts (a DestinationRule
 * edited twice within one debounce): the merged key names them all, or none (any host) when
 * either named none.
 */
function uniqueKeys(keys: readonly ConfigKey[]): ConfigKey[] {
  const byId = new Map<string, ConfigKey>();
  for (const key of keys) {
    const id = configKeyId(key);
    const seen = byId.get(id);
    if (!seen) byId.set(id, key);
    else {
      const { hosts: _hosts, ...bare } = key;
      byId.set(id, seen.hosts && key.hosts ? { ...bare, hosts: [...new Set([...seen.hosts, ...key.hosts])] } : bare);
    }
  }
  return [...byId.values()];
}

/**
 * A configuration document (a policy object: VirtualService, AuthorizationPolicy, …) as a
 * cluster's source read it. Discovery does not validate it; the receiver does, per object.
 */
export interface ConfigDocument {
  readonly value: unknown;
  /** Where it came from, for reports: `file.yaml:12`. */
  readonly origin: string;
}

/** The port through which discovery hands each cluster's configuration documents on. */
export interface ConfigUpdater {
  /** Everything `cluster` holds now (a directory read, a relist). */
  replaceConfig(cluster: ClusterId, documents: readonly ConfigDocument[]): void;
  /** `cluster` left the mesh. (An unreachable one keeps its documents: nothing is sent.) */
  removeConfig(cluster: ClusterId): void;
}
