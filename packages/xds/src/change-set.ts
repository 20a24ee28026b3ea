import { ConfigKind, type PushRequest } from '@meridian/model';

/**
 * A push request's keys as generators ask about them: which hostnames' definitions or
 * endpoints changed, whether gateways did, or everything. Built once per request (every
 * connection asks about the same request for each of its resources).
 */
export interface ChangeSet {
  /** A full push naming nothing, or a ServiceEntry change: anything may have changed. */
  readonly everything: boolean;
  /** Hostnames whose Service changed (anything built from it, its endpoints included). */
  readonly services: ReadonlySet<string>;
  /** Hostnames whose endpoints alone changed. */
  readonly endpoints: ReadonlySet<string>;
  /** Some cluster's east-west gateways changed: every assignment across networks may differ. */
  readonly gateways: boolean;
  /** A Service changed, or everything did: resources gathering every service may change. */
  readonly anyService: boolean;
  /**
   * A traffic policy object changed (or everything did): routes, clusters and subset
   * assignments may change. Not per host: a wildcard or short host, exportTo and a caller's
   * namespace decide which hosts an object reaches, so a change is taken to reach all.
   */
  readonly trafficPolicy: boolean;
  /**
   * The hosts whose clusters and assignments a traffic change may reach (their DestinationRule
   * changed): `'all'` when not known (a wildcard host, a Sidecar, everything), empty when only
   * routes changed.
   */
  readonly destinations: 'all' | ReadonlySet<string>;
  /** A route object changed (VirtualService, HTTPRoute, GRPCRoute; or a Sidecar, or everything): listeners' TCP and TLS routes may change. */
  readonly routeRules: boolean;
  /** A Sidecar changed (or everything did): which services a proxy sees may change, its listeners too. */
  readonly scopes: boolean;
  /**
   * A PeerAuthentication, AuthorizationPolicy or RequestAuthentication changed (or everything did): inbound
   * listeners (mTLS mode, RBAC) and outbound clusters (whether to speak mTLS) may change.
   */
  readonly securityPolicy: boolean;
  /** A Telemetry changed (or everything did): what sidecars' listeners log may change. */
  readonly telemetry: boolean;
}

/** The kinds that compile into inbound mTLS modes and RBAC filters (and clients' TLS choice). */
const SECURITY_POLICY_KINDS: ReadonlySet<string> = new Set([ConfigKind.PeerAuthentication, ConfigKind.AuthorizationPolicy, ConfigKind.RequestAuthentication]);

/** The kinds that compile into routes, clusters and subsets. */
const TRAFFIC_POLICY_KINDS: ReadonlySet<string> = new Set([
  ConfigKind.VirtualService,
  ConfigKind.DestinationRule,
  ConfigKind.HTTPRoute,
  ConfigKind.GRPCRoute,
  ConfigKind.ServiceEntry,
  ConfigKind.Sidecar,
]);

/** The kinds whose rules the listeners' TCP and TLS routes come from (a Sidecar decides which hosts a listener knows). */
const ROUTE_KINDS: ReadonlySet<string> = new Set([ConfigKind.VirtualService, ConfigKind.HTTPRoute, ConfigKind.GRPCRoute, ConfigKind.Sidecar]);

const changeSets = new WeakMap<PushRequest, ChangeSet>();

export function changeSetOf(request: PushRequest): ChangeSet {
  let set = changeSets.get(request);
  if (set) return set;
  const services = new Set<string>();
  const endpoints = new Set<string>();
  let gateways = false;
  let trafficPolicy = false;
  let scopes = false;
  let securityPolicy = false;
  let telemetry = false;
  let routeRules = false;
  let destinations: 'all' | Set<string> = new Set<string>();
  for (const key of request.configs) {
    if (ROUTE_KINDS.has(key.kind)) routeRules = true;
    if (key.kind === ConfigKind.DestinationRule && key.hosts && destinations !== 'all') for (const h of key.hosts) destinations.add(h);
    else if (key.kind === ConfigKind.DestinationRule || key.kind === ConfigKind.Sidecar) destinations = 'all';
    if (key.kind === ConfigKind.Telemetry) telemetry = true;
    if (key.kind === ConfigKind.Sidecar) scopes = true;
    if (TRAFFIC_POLICY_KINDS.has(key.kind)) trafficPolicy = true;
    if (SECURITY_POLICY_KINDS.has(key.kind)) securityPolicy = true;
    if (key.kind === ConfigKind.Service) services.add(key.name);
    else if (key.kind === ConfigKind.Endpoints) endpoints.add(key.name);
    else if (key.kind === ConfigKind.Gateway) gateways = true;
  }
  // A ServiceEntry defines services, their endpoints and who sees them: like a new registry
  // snapshot, everything is read again (entries change seldom; Istio pushes them in full too).
  const everything = (request.kind === 'full' && request.configs.length === 0) || request.configs.some((k) => k.kind === ConfigKind.ServiceEntry);
  set = {
    everything,
    services,
    endpoints,
    gateways,
    anyService: everything || services.size > 0,
    trafficPolicy: everything || trafficPolicy,
    destinations: everything ? 'all' : destinations,
    routeRules: everything || routeRules,
    scopes: everything || scopes,
    securityPolicy: everything || securityPolicy,
    telemetry: everything || telemetry,
  };
  changeSets.set(request, set);
  return set;
}

/** The service's definition changed. */
export function serviceChanged(changes: ChangeSet, hostname: string): boolean {
  return changes.everything || changes.services.has(hostname);
}

/** What the service's endpoints are may have changed (its definition counts: it may have lost a cluster). */
export function endpointsChanged(changes: ChangeSet, hostname: string): boolean {
  return serviceChanged(changes, hostname) || changes.endpoints.has(hostname);
}

/** The hostnames the change names, of either kind. */
export function changedHostnames(changes: ChangeSet): string[] {
  return [...new Set([...changes.services, ...changes.endpoints])];
}

/** The host's DestinationRule (its clusters, subsets, assignments' order) may have changed. */
export function destinationChanged(changes: ChangeSet, hostname: string): boolean {
  return changes.destinations === 'all' ? changes.trafficPolicy : changes.destinations.has(hostname);
}

/** Some host's DestinationRule may have changed. */
export function anyDestinationChanged(changes: ChangeSet): boolean {
  return changes.destinations === 'all' ? changes.trafficPolicy : changes.destinations.size > 0;
}
