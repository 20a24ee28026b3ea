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
}

/**
 * What changed, so a push can touch only what depends on it.
 * `full`: services or ports changed (every type may change); `endpoints`: only endpoints
 * of the named services changed (EDS only).
 */
export interface PushRequest {
  readonly kind: 'full' | 'endpoints';
  /** Affected hostnames; empty with `kind: 'full'` means everything. */
  readonly hostnames: ReadonlySet<string>;
  readonly reasons: readonly string[];
  /** When the first change behind this request happened (ms since epoch), for convergence time. */
  readonly since?: number;
}

/** The port through which discovery tells the xDS side that something changed. */
export interface XdsUpdater {
  configUpdate(request: PushRequest): void;
}

/** Merges two requests: a full request absorbs an endpoints one; an empty full set means all. */
export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const kind = a.kind === 'full' || b.kind === 'full' ? 'full' : 'endpoints';
  const everything =
    (a.kind === 'full' && a.hostnames.size === 0) || (b.kind === 'full' && b.hostnames.size === 0);
  const hostnames = everything ? new Set<string>() : new Set([...a.hostnames, ...b.hostnames]);
  const reasons = [...new Set([...a.reasons, ...b.reasons])];
  const since = Math.min(a.since ?? Infinity, b.since ?? Infinity);
  return { kind, hostnames, reasons, ...(Number.isFinite(since) ? { since } : {}) };
}

export function touchesHostname(request: PushRequest, hostname: string): boolean {
  return (request.kind === 'full' && request.hostnames.size === 0) || request.hostnames.has(hostname);
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
