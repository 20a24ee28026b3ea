import {
  policiesSelecting,
  matchesAnyHost,
  PeerMtlsMode,
  type AuthzPolicy,
  type AccessLogProvider,
  type AccessLogSink,
  type PolicyWorkload,
  type RequestAuthn,
  type TracingProvider,
  type TracingSettings,
  scopeAllows,
  scopeKey,
  type EgressScope,
  type ProxyNode,
  type Endpoint,
  type EntryService,
  type DirectionMetrics,
  EntryResolution,
  localityString,
  ProxyType,
  serviceVisibleIn,
  type MeshPolicies,
  type NetworkGateway,
  type NetworkId,
  type PushRequest,
  type Service,
  type ServiceDiscovery,
  type ServicePort,
} from '@meridian/model';
import { changedHostnames, changeSetOf } from './change-set.ts';
import type { JwksSource } from './jwt-authn.ts';
import { endpointKey, indexEndpointOwners, mtlsModeOf, MtlsMode, type MtlsOptions } from './mtls.ts';
import { WorkloadPortIndex } from './workload-port-index.ts';

/** What every snapshot is built with: the registry to read, and the mesh's own settings. */
export interface SnapshotOptions {
  readonly discovery: ServiceDiscovery;
  readonly domainSuffix: string;
  /** Hosts whose endpoints a proxy only sees from its own cluster. */
  readonly clusterLocalHosts: readonly string[];
  /** Absent: no TLS anywhere. */
  readonly mtls?: MtlsOptions | undefined;
  /** The policies in effect, read once per snapshot (the policy slot). */
  readonly policies?: (() => MeshPolicies) | undefined;
  /** Trust domains whose identities authorization's `namespaces` take as local (config `trustDomainAliases`). */
  readonly trustDomainAliases?: readonly string[] | undefined;
  /** The fetched keys of a RequestAuthentication's `jwksUri`, when Meridian has them. */
  readonly jwks?: JwksSource | undefined;
  /** Access-log sinks Telemetry may name (config `telemetry.providers`). */
  readonly accessLogProviders?: readonly AccessLogProvider[] | undefined;
  /** Trace collectors Telemetry may name. */
  readonly tracingProviders?: readonly TracingProvider[] | undefined;
}

/** A service port, with its service. */
export interface ServicePortRef {
  readonly service: Service;
  readonly port: ServicePort;
}

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

/** Without a Telemetry: every metric, with Istio's labels. */
const ALL_METRICS_AS_ISTIO: DirectionMetrics = { disabled: [] };

/**
 * The mesh as one debounced push sees it (Istio's PushContext): read from the registry once
 * when the push begins, then never changed. Generators read only this and the proxy, so
 * every resource of one push agrees with every other, and nothing reaches back into
 * discovery while building. Indexes that not every push needs are computed on first use,
 * from the snapshot's own data.
 */
export class PushSnapshot {
  /**
   * ServiceEntries selecting workloads whose endpoints differ from the previous snapshot's:
   * changes no request could name (they follow the workloads' own services).
   */
  readonly movedEntries: readonly string[];
  /** Increases with every push; a proxy's view of one snapshot is kept until the next. */
  readonly version: number;
  readonly domainSuffix: string;
  /** Every service, in the registry's order (sorted by hostname, says the port). */
  readonly services: readonly Service[];
  /** The policies in effect for this push; undefined until a policy source is wired in. */
  readonly policies: MeshPolicies | undefined;
  readonly mtls: MtlsOptions | undefined;
  /** The mesh's trust domain (the mTLS settings'; `cluster.local` without them). */
  readonly trustDomain: string;
  readonly trustDomainAliases: readonly string[];
  private readonly jwksSource: JwksSource | undefined;
  private readonly accessLogProviders: readonly AccessLogProvider[];
  /** Trace collectors the config defines. */
  readonly tracingProviders: readonly TracingProvider[];
  private readonly jwksByUri = new Map<string, string | undefined>();
  private readonly byHostname: ReadonlyMap<string, Service>;
  private readonly endpointsByHostname: ReadonlyMap<string, readonly Endpoint[]>;
  private readonly gatewaysByNetwork: ReadonlyMap<NetworkId, readonly NetworkGateway[]>;
  private readonly clusterLocalHosts: readonly string[];
  private workloadPortIndex: WorkloadPortIndex | undefined;
  /** The previous snapshot's index and what changed since, to build ours from when first asked. */
  private readonly workloadPortBase: { readonly index: WorkloadPortIndex; readonly hostnames: readonly string[] } | undefined;
  private byName: readonly Service[] | undefined;
  /** Whether some ServiceEntry is seen by some namespaces only, or cannot be called by gRPC clients. */
  private entryLimits: { byNamespace: boolean; grpcUnusable: boolean } | undefined;
  private portIndex: ReadonlyMap<number, readonly ServicePortRef[]> | undefined;
  private owners: Map<string, string[]> | undefined;
  private readonly gatewayTargetsByCluster = new Map<string, ReadonlyArray<{ hostname: string; port: number }>>();
  private readonly clientModes = new Map<string, MtlsMode>();
  private readonly scopedViews = new Map<string, { services: readonly Service[]; byPort: ReadonlyMap<number, readonly ServicePortRef[]> }>();

  private constructor(init: {
    version: number;
    options: SnapshotOptions;
    policies: MeshPolicies | undefined;
    services: readonly Service[];
    endpoints: ReadonlyMap<string, readonly Endpoint[]>;
    gateways: ReadonlyMap<NetworkId, readonly NetworkGateway[]>;
    workloadPortBase: PushSnapshot['workloadPortBase'];
    movedEntries: readonly string[];
  }) {
    this.movedEntries = init.movedEntries;
    this.version = init.version;
    this.domainSuffix = init.options.domainSuffix;
    this.clusterLocalHosts = init.options.clusterLocalHosts;
    this.mtls = init.options.mtls;
    this.trustDomain = init.options.mtls?.trustDomain ?? 'cluster.local';
    this.trustDomainAliases = init.options.trustDomainAliases ?? [];
    this.jwksSource = init.options.jwks;
    this.accessLogProviders = init.options.accessLogProviders ?? [];
    this.tracingProviders = init.options.tracingProviders ?? [];
    this.policies = init.policies;
    this.services = init.services;
    this.byHostname = new Map(init.services.map((s) => [s.hostname, s]));
    this.endpointsByHostname = init.endpoints;
    this.gatewaysByNetwork = init.gateways;
    this.workloadPortBase = init.workloadPortBase;
  }

  /**
   * The snapshot after `request`: services and gateways read again, endpoints only of the
   * hostnames it names (all of them for a push naming everything, or without a previous).
   */
  static next(options: SnapshotOptions, previous: PushSnapshot | undefined, request: PushRequest | undefined): PushSnapshot {
    const { discovery } = options;
    const policies = options.policies?.();
    const entries = policies?.serviceEntries ?? [];
    const services = entries.length ? withEntries([...discovery.services()], entries) : [...discovery.services()];
    const changes = request && changeSetOf(request);
    const rereadAll = !previous || !changes || changes.everything;
    const hostnames = rereadAll ? [] : changedHostnames(changes);
    let endpoints: Map<string, readonly Endpoint[]>;
    const added = new Set(services.filter((s) => s.entry));
    const entryEndpoints = new Map(entries.filter((e) => added.has(e.service)).map((e) => [e.service.hostname, e.endpoints]));
    const read = (hostname: string) => entryEndpoints.get(hostname) ?? discovery.endpoints(hostname);
    if (rereadAll) {
      endpoints = new Map(services.map((s) => [s.hostname, read(s.hostname)]));
    } else {
      endpoints = new Map(previous.endpointsByHostname);
      for (const h of hostnames) endpoints.set(h, read(h));
      // A service that went away takes its endpoints along.
      if (services.length !== endpoints.size) {
        const known = new Set(services.map((s) => s.hostname));
        for (const h of endpoints.keys()) if (!known.has(h)) endpoints.delete(h);
        for (const s of services) if (!endpoints.has(s.hostname)) endpoints.set(s.hostname, read(s.hostname));
      }
    }
    const moved: string[] = [];
    for (const { service, endpoints: found } of selectWorkloads(entries, services, endpoints)) {
      const hostname = service.hostname;
      if (previous && !sameEndpoints(previous.endpoints(hostname), found)) moved.push(hostname);
      endpoints.set(hostname, found);
      const at = services.findIndex((s) => s.hostname === hostname);
      services[at] = service;
    }
    const gateways = new Map<NetworkId, NetworkGateway[]>();
    for (const g of discovery.allNetworkGateways()) {
      const list = gateways.get(g.network);
      if (list) list.push(g);
      else gateways.set(g.network, [g]);
    }
    const base = !rereadAll && previous.workloadPortIndex ? { index: previous.workloadPortIndex, hostnames: [...hostnames, ...moved] } : undefined;
    return new PushSnapshot({ version: (previous?.version ?? 0) + 1, options, policies, services, endpoints, gateways, workloadPortBase: base, movedEntries: moved });
  }

  service(hostname: string): Service | undefined {
    return this.byHostname.get(hostname);
  }

  /** A service's endpoints from every cluster, sorted by cluster then address. */
  endpoints(hostname: string): readonly Endpoint[] {
    return this.endpointsByHostname.get(hostname) ?? NO_ENDPOINTS;
  }

  /** East-west gateways of a network, configured ones first. */
  gateways(network: NetworkId): readonly NetworkGateway[] {
    return this.gatewaysByNetwork.get(network) ?? NO_GATEWAYS;
  }

  /** Hosts configured cluster-local: their endpoints come from the proxy's own cluster only. */
  clusterLocal(hostname: string): boolean {
    return matchesAnyHost(this.clusterLocalHosts, hostname);
  }

  /**
   * Whether clients speak mTLS to a service: plaintext when the PeerAuthentication of its
   * namespace (or the mesh's) is DISABLE, mTLS when it is STRICT or PERMISSIVE; without one,
   * the config (`mtls.services`, then `mtls.mode`); never for a MESH_EXTERNAL ServiceEntry's host. Workload-level policies do not count: a
   * client picks one mode for all of a service's endpoints, as Istio's auto-mTLS does.
   */
  mtlsMode(hostname: string): MtlsMode {
    let mode = this.clientModes.get(hostname);
    if (mode === undefined) {
      const service = this.byHostname.get(hostname);
      if (service?.entry?.external) {
        // Outside the mesh: nothing there holds a mesh certificate.
        this.clientModes.set(hostname, MtlsMode.Disable);
        return MtlsMode.Disable;
      }
      const decision = this.mtls && service ? this.policies?.peerAuthentications.modeFor({ namespace: service.namespace, labels: {} }, 0) : undefined;
      mode = decision?.source ? (decision.mode === PeerMtlsMode.Disable ? MtlsMode.Disable : MtlsMode.Strict) : mtlsModeOf(this.mtls, hostname);
      this.clientModes.set(hostname, mode);
    }
    return mode;
  }

  /**
   * The mode a workload serves one of its ports with: the PeerAuthentication that applies
   * (workload port, workload, namespace, mesh); without one, the config — strict if any of
   * `hostnames` (the services whose endpoint it is) is, else the mesh mode. No TLS at all
   * without mTLS settings (no trust domain, no certificates).
   */
  inboundMtls(workload: PolicyWorkload, port: number, hostnames: readonly string[]): PeerMtlsMode {
    if (!this.mtls) return PeerMtlsMode.Disable;
    const decision = this.policies?.peerAuthentications.modeFor(workload, port);
    if (decision?.source) return decision.mode;
    const configured = hostnames.length ? hostnames.map((h) => mtlsModeOf(this.mtls, h)) : [this.mtls.mode];
    return configured.includes(MtlsMode.Strict) ? PeerMtlsMode.Strict : PeerMtlsMode.Disable;
  }

  /** The authorization policies that apply to a workload, in the compiled order. */
  authorizationFor(workload: PolicyWorkload): readonly AuthzPolicy[] {
    const all = this.policies?.authorization ?? [];
    return all.length ? policiesSelecting(all, workload) : all;
  }

  /** The RequestAuthentications that apply to a workload. */
  requestAuthenticationFor(workload: PolicyWorkload): readonly RequestAuthn[] {
    const all = this.policies?.requestAuthentication ?? [];
    return all.length ? policiesSelecting(all, workload) : all;
  }

  /** The access-log sinks a workload's sidecar writes to, in one direction, each with its filter. */
  accessLogProvidersFor(workload: PolicyWorkload, direction: 'client' | 'server'): readonly AccessLogSink[] {
    const logging = this.policies?.telemetry.accessLoggingFor(workload);
    const names = logging?.[direction] ?? [];
    const filters = logging?.filters?.[direction] ?? {};
    return names.flatMap((n): AccessLogSink[] => {
      const sink: AccessLogSink | undefined = this.accessLogProviders.find((p) => p.name === n) ?? this.tracingProviders.map((collector) => ({ name: collector.name, collector })).find((p) => p.name === n);
      if (!sink) return [];
      return [filters[n] ? { ...sink, filter: filters[n] } : sink];
    });
  }

  /** How a workload's sidecar traces one direction, and the collector it reports to; undefined: not traced. */
  tracingFor(workload: PolicyWorkload, direction: 'client' | 'server'): { readonly settings: TracingSettings; readonly provider: TracingProvider } | undefined {
    const settings = this.policies?.telemetry.tracingFor(workload)[direction];
    const provider = settings && this.tracingProviders.find((p) => p.name === settings.provider);
    return settings && provider ? { settings, provider } : undefined;
  }

  /** How a workload's sidecar reports Istio's metrics in one direction (Telemetry `metrics` overrides): what it leaves out, how it edits labels. */
  metricsFor(workload: PolicyWorkload, direction: 'client' | 'server'): DirectionMetrics {
    return this.policies?.telemetry.metricsFor?.(workload)[direction] ?? ALL_METRICS_AS_ISTIO;
  }

  /** The keys fetched from a `jwksUri`, as of this snapshot's push. */
  jwks(uri: string): string | undefined {
    // Read once per snapshot, so every resource of one push carries the same keys.
    if (!this.jwksByUri.has(uri)) this.jwksByUri.set(uri, this.jwksSource?.(uri));
    return this.jwksByUri.get(uri);
  }

  strict(hostname: string): boolean {
    return this.mtlsMode(hostname) === MtlsMode.Strict;
  }

  /** The services in hostname order, whatever order the registry gave. */
  private sortedServices(): readonly Service[] {
    this.byName ??= [...this.services].sort((a, b) => compare(a.hostname, b.hostname));
    return this.byName;
  }

  /** The Sidecar egress scope of a proxy's workload, if a Sidecar selects it. */
  scopeOf(proxy: ProxyNode): EgressScope | undefined {
    return this.policies?.traffic.egressFor(proxy);
  }

  /**
   * A service as a proxy may use it: one its namespace sees (a ServiceEntry's `exportTo`) and
   * its kind of client can call. A Sidecar's egress scope is not applied here: a name a
   * client asks for explicitly is answered.
   */
  serviceFor(proxy: ProxyNode, hostname: string): Service | undefined {
    const service = this.byHostname.get(hostname);
    return service && (!service.entry || this.usableBy(proxy, service)) ? service : undefined;
  }

  /** The services a proxy sees (its Sidecar's egress scope, ServiceEntries exported to it), in registry order. */
  visibleServices(proxy: ProxyNode): readonly Service[] {
    return this.visible(proxy)?.services ?? this.services;
  }

  /**
   * Every service port a proxy sees, by port number (ascending); services in hostname order.
   */
  servicesByPort(proxy: ProxyNode): ReadonlyMap<number, readonly ServicePortRef[]> {
    const view = this.visible(proxy);
    if (view) return view.byPort;
    this.portIndex ??= indexByPort(this.sortedServices());
    return this.portIndex;
  }

  /** The proxy's filtered view, shared by every proxy alike in what decides it; undefined: it sees everything. */
  private visible(proxy: ProxyNode): { services: readonly Service[]; byPort: ReadonlyMap<number, readonly ServicePortRef[]> } | undefined {
    const scope = this.scopeOf(proxy);
    this.entryLimits ??= entryLimitsOf(this, this.services);
    const byNamespace = this.entryLimits.byNamespace;
    const grpc = this.entryLimits.grpcUnusable && proxy.type === ProxyType.ProxylessGrpc;
    if (!scope && !byNamespace && !grpc) return undefined;
    const key = `${scopeKey(scope)}|${byNamespace ? proxy.namespace : ''}|${grpc ? proxy.type : ''}`;
    let view = this.scopedViews.get(key);
    if (!view) {
      const services = this.services.filter((s) => scopeAllows(scope, s) && (!s.entry || this.usableBy(proxy, s)));
      view = { services, byPort: indexByPort([...services].sort((a, b) => compare(a.hostname, b.hostname))) };
      this.scopedViews.set(key, view);
    }
    return view;
  }

  private usableBy(proxy: ProxyNode, service: Service): boolean {
    return serviceVisibleIn(service, proxy.namespace) && (proxy.type !== ProxyType.ProxylessGrpc || grpcCanCall(service, this.endpoints(service.hostname)));
  }

  /** Which service ports have endpoints at an address of a cluster. */
  workloadPorts(): WorkloadPortIndex {
    this.workloadPortIndex ??= this.workloadPortBase
      ? this.workloadPortBase.index.next(this, this.workloadPortBase.hostnames)
      : WorkloadPortIndex.build(this);
    return this.workloadPortIndex;
  }

  /** Hostnames of the services whose endpoints listen on `address:port`, sorted. */
  endpointOwners(address: string, port: number): readonly string[] {
    this.owners ??= indexEndpointOwners(this.services, (h) => this.endpoints(h));
    return this.owners.get(endpointKey(address, port)) ?? [];
  }

  /** Service ports with an endpoint in a cluster, by hostname then port: what its east-west gateway exposes. */
  gatewayTargets(cluster: string): ReadonlyArray<{ hostname: string; port: number }> {
    let targets = this.gatewayTargetsByCluster.get(cluster);
    if (!targets) {
      targets = this.sortedServices()
        .filter((s) => s.clusters.includes(cluster))
        .flatMap((s) => s.ports.map((p) => ({ hostname: s.hostname, port: p.port })));
      this.gatewayTargetsByCluster.set(cluster, targets);
    }
    return targets;
  }
}

const NO_GATEWAYS: readonly NetworkGateway[] = Object.freeze([]);

/**
 * Whether a proxyless gRPC client can call an entry's service: it has no original destination
 * to pass a connection through to (resolution NONE), and its logical DNS cluster holds
 * exactly one name.
 */
export function grpcCanCall(service: Service, endpoints: readonly Endpoint[]): boolean {
  const resolution = service.entry?.resolution;
  if (resolution === EntryResolution.None) return false;
  if (resolution === EntryResolution.Dns || resolution === EntryResolution.DnsRoundRobin) return new Set(endpoints.map((e) => e.address)).size === 1;
  return true;
}

function entryLimitsOf(snapshot: PushSnapshot, services: readonly Service[]): { byNamespace: boolean; grpcUnusable: boolean } {
  const entries = services.filter((s) => s.entry);
  return { byNamespace: entries.some((s) => s.entry?.visibleIn), grpcUnusable: entries.some((s) => !grpcCanCall(s, snapshot.endpoints(s.hostname))) };
}

/**
 * The endpoints of ServiceEntries that select workloads: every endpoint of a service in the
 * entry's namespace whose workload has the labels, once per workload (cluster and address),
 * on each of the entry's ports (its target port). The entry's service gets their service
 * accounts, what clients check under mTLS.
 */
function selectWorkloads(entries: readonly EntryService[], services: readonly Service[], endpoints: ReadonlyMap<string, readonly Endpoint[]>): Array<{ service: Service; endpoints: Endpoint[] }> {
  const selecting = entries.filter((e) => e.workloadSelector && services.includes(e.service));
  return selecting.map(({ service, workloadSelector }) => {
    const wanted = Object.entries(workloadSelector?.labels ?? {});
    const seen = new Set<string>();
    const found: Endpoint[] = [];
    for (const s of services) {
      if (s.entry || s.namespace !== service.namespace) continue;
      for (const e of endpoints.get(s.hostname) ?? []) {
        const labels = e.labels;
        if (!labels || !wanted.every(([k, v]) => labels[k] === v) || seen.has(`${e.cluster}|${e.address}`)) continue;
        seen.add(`${e.cluster}|${e.address}`);
        for (const port of service.ports) found.push({ ...e, port: workloadSelector?.targetPorts.get(port.name) ?? port.port, portName: port.name });
      }
    }
    const serviceAccounts = [...new Set(found.flatMap((e) => (e.serviceAccount ? [e.serviceAccount] : [])))].sort();
    return { service: { ...service, serviceAccounts, clusters: [...new Set(found.map((e) => e.cluster))].sort() }, endpoints: found };
  });
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((e, i) => {
    const o = b[i];
    return (
      o !== undefined &&
      e.address === o.address &&
      e.port === o.port &&
      e.portName === o.portName &&
      e.cluster === o.cluster &&
      e.health === o.health &&
      e.stale === o.stale &&
      e.network === o.network &&
      e.serviceAccount === o.serviceAccount &&
      localityString(e.locality) === localityString(o.locality) &&
      JSON.stringify(e.labels ?? {}) === JSON.stringify(o.labels ?? {})
    );
  });
}

/**
 * The registry's services and those ServiceEntries define, in hostname order. A hostname a
 * cluster's Service has stays that Service's: an entry never takes over a Kubernetes name.
 */
function withEntries(registry: readonly Service[], entries: readonly EntryService[]): Service[] {
  const known = new Set(registry.map((s) => s.hostname));
  const added = entries.filter((e) => !known.has(e.service.hostname)).map((e) => e.service);
  return [...registry, ...added].sort((a, b) => compare(a.hostname, b.hostname));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function indexByPort(services: readonly Service[]): ReadonlyMap<number, readonly ServicePortRef[]> {
  const byPort = new Map<number, ServicePortRef[]>();
  for (const service of services) {
    for (const port of service.ports) {
      const list = byPort.get(port.port);
      if (list) list.push({ service, port });
      else byPort.set(port.port, [{ service, port }]);
    }
  }
  return new Map([...byPort].sort(([a], [b]) => a - b));
}
