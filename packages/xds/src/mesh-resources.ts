import { hash } from 'node:crypto';
import {
  EMPTY_LOCALITY,
  ProxyType,
  localityString,
  type ProxyNode,
  type PushRequest,
  type Service,
  type ServicePort,
} from '@meridian/model';
import {
  buildApiListener,
  buildEdsCluster,
  buildInboundListener,
  buildRouteConfiguration,
} from './grpc-resources.ts';
import {
  hasMtlsOverrides,
  MtlsMode,
  mtlsModeOf,
  parseInboundListenerName,
  serverSanMatchers,
  serviceIdentities,
  type MtlsOptions,
  type StringMatcher,
} from './mtls.ts';
import { changedHostnames, changeSetOf, endpointsChanged, serviceChanged, type ChangeSet } from './change-set.ts';
import { selectPortEndpoints, type EndpointSelection } from './endpoint-selection.ts';
import {
  buildGatewayCluster,
  buildGatewayListener,
  buildBlackholeCluster,
  buildInboundCluster,
  buildInboundPassthroughCluster,
  buildOutboundPortListener,
  buildOutboundRouteConfiguration,
  buildPassthroughCluster,
  buildSidecarOutboundCluster,
  buildVirtualInboundListener,
  buildVirtualOutboundListener,
  EAST_WEST_GATEWAY_LABEL,
  BLACKHOLE_CLUSTER,
  EAST_WEST_GATEWAY_LISTENER,
  INBOUND_PASSTHROUGH_CLUSTER,
  ENVOY_LOAD_ASSIGNMENT_POLICY,
  PASSTHROUGH_CLUSTER,
  trafficProtocol,
  TrafficProtocol,
  VIRTUAL_INBOUND_LISTENER,
  VIRTUAL_OUTBOUND_LISTENER,
  type HttpTarget,
  type InboundPort,
  type TcpTarget,
} from './envoy-resources.ts';
import { loadSidecarProtos } from './envoy-protos.ts';
import { encodeLoadAssignment } from './load-assignment.ts';
import { encodeMessage } from './protos.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import {
  candidateHostnames,
  inboundClusterName,
  outboundClusterName,
  outboundPortListenerName,
  parseHostPort,
  parseInboundClusterName,
  parseOutboundClusterName,
  parseOutboundPortListenerName,
  parseSniName,
  serviceDomains,
  sniName,
} from './resource-names.ts';
import { TypeUrl } from './type-url.ts';
import { encodeAny } from './wire.ts';
import { PushSnapshot, type SnapshotOptions } from './push-snapshot.ts';

export interface MeshResourcesOptions extends SnapshotOptions {
  /** Most resources whose bytes are kept; beyond it the oldest go. Default `DEFAULT_MAX_CACHE_ENTRIES`. */
  readonly maxCacheEntries?: number;
}

/**
 * Views multiply resources: every locality, network or cluster a proxy claims is a view of
 * its own, and a proxy may claim anything. A thousand services with ten views each fit.
 */
export const DEFAULT_MAX_CACHE_ENTRIES = 50_000;

/**
 * Shared answers kept between two pushes. Every distinct set of up to 16 names is one, so
 * without a bound a client asking for ever new sets would grow them until the next push.
 */
export const MAX_SHARED_ANSWERS = 10_000;

/** Cache bucket of inbound listeners: their bytes depend only on their key, never on a hostname. */
const INBOUND_BUCKET = '';
/**
 * Cache bucket of Envoy resources that gather every service on a port (`0.0.0.0_<port>`,
 * RDS `<port>`, the gateway listener): a service added, changed or removed anywhere may
 * change them, so any full push drops the whole bucket.
 */
const AGGREGATE_BUCKET = '*';

/** Clusters every sidecar gets as they are, whatever the mesh holds (in CDS order). */
const FIXED_SIDECAR_CLUSTERS: ReadonlyMap<string, () => object> = new Map([
  [PASSTHROUGH_CLUSTER, buildPassthroughCluster],
  [INBOUND_PASSTHROUGH_CLUSTER, buildInboundPassthroughCluster],
  [BLACKHOLE_CLUSTER, buildBlackholeCluster],
]);

interface Target {
  readonly service: Service;
  readonly port: ServicePort;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Answers shared by proxies asking the same thing, kept until the next push. */
  sharedAnswers: number;
}

/**
 * Builds resources from the merged registry and caches their bytes by what they depend on:
 * (type, name, hostname) for listeners, routes and clusters, plus the proxy's endpoint view
 * (cluster, network, locality) for endpoints. A push drops only the entries of the
 * hostnames it names. Only resources that exist are cached (an unknown EDS name gets an
 * empty assignment built on the spot), and at most `maxCacheEntries` of them, oldest out
 * first, so no stream of requests can grow the cache without bound.
 *
 * With mTLS strict for a service, its clusters carry the SPIFFE IDs of the service accounts
 * behind it. Those come from endpoints, so for such a service an endpoints push also touches
 * CDS: `affects` says so and `invalidate` drops its clusters too. Rebuilding a cluster is
 * cheap, and since versions are content hashes a cluster whose SANs did not change is not
 * sent again. (Keying the cache by SAN list instead would leave stale entries behind.)
 *
 * Inbound listeners (`xds.istio.io/grpc/lds/inbound/<ip>:<port>`, asked for by `XdsServer`s)
 * take the mode of the service whose endpoint is that ip:port, else the global mode.
 *
 * Envoy proxies (`sidecar`, and `router` labelled as an east-west gateway) get their own
 * resources (`envoy-resources.ts`) from the same registry and the same endpoint selection;
 * their cache keys carry the proxy type, so they never share bytes with proxyless ones.
 * Resources that gather every service on a port sit in one bucket dropped by any full push;
 * resources built from the proxy's own endpoints (virtualInbound, `inbound|<port>||`) are
 * built per request and not cached, since no two pods share them.
 */
export class MeshResources implements ResourceSource {
  private readonly options: MeshResourcesOptions;
  private readonly domainSuffix: string;
  private readonly mtls: MtlsOptions | undefined;
  /** The mesh as the last push saw it; read from the registry on first use before any push. */
  private snapshot: PushSnapshot | undefined;
  /** Per proxy, until the next snapshot (`generation`): its memo key part and inbound ports. */
  private readonly proxyViews = new WeakMap<ProxyNode, { generation: number; key: string; inbound: InboundPort[] | undefined }>();
  /** In insertion order, so the first entry is the one to evict. */
  private readonly cache = new Map<string, { readonly resource: GeneratedResource; readonly hostname: string }>();
  private readonly maxCacheEntries: number;
  /** Answers built since the last push, shared by every proxy asking the same thing. */
  private readonly memo = new Map<string, GeneratedResource[]>();
  private readonly keysByHostname = new Map<string, Set<string>>();
  readonly stats: CacheStats = { entries: 0, hits: 0, misses: 0, evictions: 0, sharedAnswers: 0 };

  constructor(options: MeshResourcesOptions) {
    this.options = options;
    this.domainSuffix = options.domainSuffix;
    this.mtls = options.mtls;
    this.maxCacheEntries = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
  }

  /** The snapshot generators read (Istio's PushContext): built by each push, never changed after. */
  snap(): PushSnapshot {
    this.snapshot ??= PushSnapshot.next(this.options, undefined, undefined);
    return this.snapshot;
  }

  generate(typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[] {
    // Secrets are per connection, never mesh resources (`connectionSource` serves them).
    if (typeUrl === TypeUrl.Secret) return [];
    // A wildcard answer is the same list for every proxy of a kind until the next push: build
    // it once, so a push to a thousand proxies does not walk the mesh a thousand times. The
    // same array comes back each time, which also lets typeVersion() remember its hash.
    // Small named subscriptions (a gRPC client's few names, a sidecar's EDS) are shared the
    // same way; the endpoint view (locality) is part of the key for them.
    const memoKey =
      names === undefined
        ? `${typeUrl}|${this.proxyKey(proxy)}`
        : names.size <= 16
          ? `${typeUrl}|${this.proxyKey(proxy)}|${localityString(proxy.locality)}|${[...names].sort().join(' ')}`
          : undefined;
    const memo = memoKey === undefined ? undefined : this.memo.get(memoKey);
    if (memo) return memo;
    const envoy = isEnvoy(proxy);
    if (envoy) loadSidecarProtos();
    const wanted = names ?? (envoy ? this.envoyWildcardNames(typeUrl, proxy) : this.wildcardNames(typeUrl));
    const out: GeneratedResource[] = [];
    for (const name of wanted) {
      const resource = envoy ? this.namedForEnvoyType(typeUrl, proxy, name, names !== undefined) : this.resource(typeUrl, proxy, name);
      if (resource) out.push(resource);
    }
    if (memoKey !== undefined && this.memo.size < MAX_SHARED_ANSWERS) {
      this.memo.set(memoKey, out);
      this.stats.sharedAnswers = this.memo.size;
    }
    return out;
  }

  affects(request: PushRequest, typeUrl: TypeUrl, proxy: ProxyNode, name: string | undefined): boolean {
    if (typeUrl === TypeUrl.Secret) return false;
    const changes = changeSetOf(request);
    if (isEnvoy(proxy)) return this.envoyAffects(changes, typeUrl, name);
    if (changes.everything) return true;
    if (typeUrl === TypeUrl.Listener && (name === undefined || parseInboundListenerName(name))) {
      // Which service owns an ip:port is not known from the name, and may just have changed:
      // only a service with a mode of its own can move a listener away from the global mode.
      if (this.inboundAffected(changes)) return true;
      if (name !== undefined) return false;
    }
    if (name === undefined) return changes.anyService || this.endpointsAffect(typeUrl, changes);
    return this.hostnamesOf(typeUrl, proxy, name).some(
      (h) => serviceChanged(changes, h) || (changes.endpoints.has(h) && this.endpointsAffectHost(typeUrl, h)) || (typeUrl === TypeUrl.Endpoint && changes.gateways),
    );
  }

  invalidate(request: PushRequest): void {
    const changes = changeSetOf(request);
    this.snapshot = PushSnapshot.next(this.options, this.snapshot, request);
    this.memo.clear();
    this.stats.sharedAnswers = 0;
    if (changes.everything) {
      this.cache.clear();
      this.keysByHostname.clear();
    }
    if (changes.anyService) {
      for (const key of this.keysByHostname.get(AGGREGATE_BUCKET) ?? []) this.cache.delete(key);
      this.keysByHostname.delete(AGGREGATE_BUCKET);
    }
    const dropped = (hostname: string, key: string) =>
      serviceChanged(changes, hostname) ||
      (key.startsWith('E|') && (changes.gateways || changes.endpoints.has(hostname))) ||
      (changes.endpoints.has(hostname) && this.strict(hostname) && key.startsWith('C|'));
    const hostnames = changes.gateways ? [...this.keysByHostname.keys()] : changedHostnames(changes);
    for (const hostname of hostnames) {
      const keys = this.keysByHostname.get(hostname);
      if (!keys) continue;
      for (const key of keys) {
        if (dropped(hostname, key)) {
          this.cache.delete(key);
          keys.delete(key);
        }
      }
      if (keys.size === 0) this.keysByHostname.delete(hostname);
    }
    this.stats.entries = this.cache.size;
  }

  /** Whether a change of endpoints (or gateways) alone may change resources of this type at all. */
  private endpointsAffect(typeUrl: TypeUrl, changes: ChangeSet): boolean {
    switch (typeUrl) {
      case TypeUrl.Endpoint:
        return changes.endpoints.size > 0 || changes.gateways;
      case TypeUrl.Cluster:
        return this.mtls !== undefined && [...changes.endpoints].some((h) => this.strict(h));
      case TypeUrl.Listener:
        return this.inboundAffected(changes);
      case TypeUrl.Route:
      case TypeUrl.Secret:
        return false;
    }
  }

  /** For a change of `hostname`'s endpoints: does it change this type's resources of it? */
  private endpointsAffectHost(typeUrl: TypeUrl, hostname: string): boolean {
    return typeUrl === TypeUrl.Endpoint || (typeUrl === TypeUrl.Cluster && this.strict(hostname));
  }

  private inboundAffected(changes: ChangeSet): boolean {
    if (!hasMtlsOverrides(this.mtls)) return false;
    if (changes.everything) return true;
    const global = this.mtls?.mode ?? MtlsMode.Disable;
    return changedHostnames(changes).some((h) => mtlsModeOf(this.mtls, h) !== global);
  }

  private strict(hostname: string): boolean {
    return mtlsModeOf(this.mtls, hostname) === MtlsMode.Strict;
  }

  private wildcardNames(typeUrl: TypeUrl): string[] {
    if (typeUrl === TypeUrl.Endpoint || typeUrl === TypeUrl.Route) return [];
    return this.snap().services.flatMap((s) =>
      s.ports.map((p) =>
        typeUrl === TypeUrl.Cluster ? outboundClusterName(s.hostname, p.port) : `${s.hostname}:${p.port}`,
      ),
    );
  }

  private hostnamesOf(typeUrl: TypeUrl, proxy: ProxyNode, name: string): string[] {
    if (typeUrl === TypeUrl.Cluster || typeUrl === TypeUrl.Endpoint) {
      const parsed = parseOutboundClusterName(name);
      return parsed ? [parsed.hostname] : [];
    }
    return candidateHostnames(parseHostPort(name).host, proxy.namespace, this.domainSuffix);
  }

  /** `host:port` or `host` (a single-port service) → the service port it names. */
  private resolveTarget(name: string, proxy: ProxyNode): Target | undefined {
    const { host, port } = parseHostPort(name);
    for (const hostname of candidateHostnames(host, proxy.namespace, this.domainSuffix)) {
      const service = this.snap().service(hostname);
      if (!service) continue;
      const servicePort =
        port === undefined ? (service.ports.length === 1 ? service.ports[0] : undefined) : service.ports.find((p) => p.port === port);
      if (servicePort) return { service, port: servicePort };
    }
    return undefined;
  }

  private resource(typeUrl: TypeUrl, proxy: ProxyNode, name: string): GeneratedResource | undefined {
    switch (typeUrl) {
      case TypeUrl.Listener:
      case TypeUrl.Route: {
        const inbound = typeUrl === TypeUrl.Listener ? parseInboundListenerName(name) : undefined;
        if (inbound) return this.inboundListener(name, inbound.address, inbound.port);
        const target = this.resolveTarget(name, proxy);
        if (!target) return undefined;
        const { hostname } = target.service;
        return this.cached(typeUrl, `${typeUrl === TypeUrl.Listener ? 'L' : 'R'}|${name}|${hostname}`, hostname, name, () =>
          typeUrl === TypeUrl.Listener
            ? buildApiListener(name)
            : buildRouteConfiguration(name, hostname, target.port.port, this.domainSuffix),
        );
      }
      case TypeUrl.Cluster: {
        const parsed = parseOutboundClusterName(name);
        const service = parsed && this.snap().service(parsed.hostname);
        const port = parsed && service?.ports.find((p) => p.port === parsed.port);
        if (!parsed || !service || !port) return undefined;
        return this.cached(typeUrl, `C|${name}`, parsed.hostname, name, () => {
          const trustDomain = this.mtls?.trustDomain;
          const strict = trustDomain !== undefined && this.strict(parsed.hostname);
          return buildEdsCluster(parsed.hostname, port, strict ? serverSanMatchers(trustDomain, serviceIdentities(trustDomain, service)) : undefined);
        });
      }
      case TypeUrl.Endpoint:
        return this.loadAssignment(proxy, name);
    }
  }

  private inboundListener(name: string, address: string, port: number): GeneratedResource {
    const mtls = this.inboundMode(address, port) === MtlsMode.Strict;
    return this.cached(TypeUrl.Listener, `I|${name}|${mtls ? 'tls' : 'plain'}`, INBOUND_BUCKET, name, () =>
      buildInboundListener(name, address, port, mtls),
    );
  }

  /**
   * The mode of the service whose endpoint listens there. When two services share the
   * endpoint and disagree, strict wins: a plaintext listener would let the strict service's
   * callers down silently, a TLS one makes the conflict fail loudly.
   */
  inboundMode(address: string, port: number): MtlsMode {
    const global = this.mtls?.mode ?? MtlsMode.Disable;
    if (!hasMtlsOverrides(this.mtls)) return global;
    const owners = this.snap().endpointOwners(address, port);
    if (owners.length === 0) return global;
    return owners.some((h) => this.strict(h)) ? MtlsMode.Strict : MtlsMode.Disable;
  }

  /**
   * Why a proxy gets what it gets for each port of a service (`/debug/endpointz`): the same
   * selection the EDS generator serves, uncached, from the snapshot of the last push.
   */
  explainEndpoints(proxy: ProxyNode, hostname: string): Array<{ clusterName: string; port: ServicePort; selection: EndpointSelection }> {
    const service = this.snap().service(hostname);
    if (!service) return [];
    return service.ports.map((port) => ({
      clusterName: outboundClusterName(hostname, port.port),
      port,
      selection: this.select(proxy, hostname, port),
    }));
  }

  private select(proxy: ProxyNode, hostname: string, port: ServicePort): EndpointSelection {
    const snapshot = this.snap();
    return selectPortEndpoints(proxy, port, snapshot.endpoints(hostname), (n) => snapshot.gateways(n), {
      clusterLocal: snapshot.clusterLocal(hostname),
    });
  }

  private loadAssignment(proxy: ProxyNode, name: string): GeneratedResource {
    const parsed = parseOutboundClusterName(name);
    if (!parsed) return this.encode(TypeUrl.Endpoint, name, { cluster_name: name, endpoints: [] });
    const { hostname } = parsed;
    const port = this.snap().service(hostname)?.ports.find((p) => p.port === parsed.port);
    if (!port) return this.encode(TypeUrl.Endpoint, name, { cluster_name: name, endpoints: [] });
    const clusterLocal = this.snap().clusterLocal(hostname);
    // Everything the selection reads from the proxy is in here, and the proxy type: Envoy's
    // assignment carries a policy gRPC's does not. Gateways are not: a Gateway key in a push
    // drops every cached assignment.
    const view = `${proxy.type}|${clusterLocal ? proxy.cluster : '*'}|${proxy.network}|${localityString(proxy.locality)}`;
    const policy = isEnvoy(proxy) ? ENVOY_LOAD_ASSIGNMENT_POLICY : undefined;
    return this.cached(TypeUrl.Endpoint, `E|${name}|${view}`, hostname, name, () =>
      encodeLoadAssignment(name, this.select(proxy, hostname, port), policy),
    );
  }

  // ---- Envoy sidecars and east-west gateways ----

  private envoyWildcardNames(typeUrl: TypeUrl, proxy: ProxyNode): string[] {
    if (proxy.type === ProxyType.Router) {
      // Only east-west gateways: ingress gateways need Gateway config Meridian does not have.
      if (!isEastWestGateway(proxy)) return [];
      const targets = this.snap().gatewayTargets(proxy.cluster);
      if (typeUrl === TypeUrl.Listener) return targets.length > 0 ? [EAST_WEST_GATEWAY_LISTENER] : [];
      if (typeUrl === TypeUrl.Cluster) return targets.map((t) => sniName(t.hostname, t.port));
      return [];
    }
    switch (typeUrl) {
      case TypeUrl.Listener: {
        const ports = [...this.snap().servicesByPort().keys()].map(outboundPortListenerName);
        return [VIRTUAL_OUTBOUND_LISTENER, ...ports, VIRTUAL_INBOUND_LISTENER];
      }
      case TypeUrl.Cluster: {
        const outbound = this.snap().services.flatMap((s) => s.ports.map((p) => outboundClusterName(s.hostname, p.port)));
        const inbound = this.inboundPorts(proxy).map((p) => inboundClusterName(p.port));
        return [...FIXED_SIDECAR_CLUSTERS.keys(), ...outbound, ...inbound];
      }
      case TypeUrl.Route:
      case TypeUrl.Endpoint:
      case TypeUrl.Secret:
        return [];
    }
  }

  /**
   * A proxyless gRPC client may use Istio's node id form too (Istio's own agent writes such
   * bootstraps), so the id alone does not say Envoy. What does: Envoy takes listeners and
   * clusters by wildcard, while a gRPC client names each one (`host:port` listeners,
   * `outbound|…` clusters). So a named request resolves Envoy's own names first, then the
   * proxyless ones; a named outbound cluster is a gRPC client's and gets the proxyless
   * cluster (no SDS, which grpc-js-xds cannot use). EDS and the names only Envoy uses are the
   * same either way.
   */
  private namedForEnvoyType(typeUrl: TypeUrl, proxy: ProxyNode, name: string, named: boolean): GeneratedResource | undefined {
    if (!named) return this.envoyResource(typeUrl, proxy, name);
    if (typeUrl === TypeUrl.Cluster && parseOutboundClusterName(name)) return this.resource(typeUrl, proxy, name);
    return this.envoyResource(typeUrl, proxy, name) ?? (typeUrl === TypeUrl.Endpoint ? undefined : this.resource(typeUrl, proxy, name));
  }

  private envoyResource(typeUrl: TypeUrl, proxy: ProxyNode, name: string): GeneratedResource | undefined {
    const gateway = isEastWestGateway(proxy);
    if (proxy.type === ProxyType.Router && !gateway && typeUrl !== TypeUrl.Endpoint) return undefined;
    switch (typeUrl) {
      case TypeUrl.Listener:
        if (gateway) {
          if (name !== EAST_WEST_GATEWAY_LISTENER) return undefined;
          const targets = this.snap().gatewayTargets(proxy.cluster);
          if (targets.length === 0) return undefined; // a listener without a filter chain is rejected
          return this.cached(typeUrl, `L|${proxy.type}|${name}|${proxy.cluster}`, AGGREGATE_BUCKET, name, () => buildGatewayListener(targets));
        }
        return this.sidecarListener(proxy, name);
      case TypeUrl.Route: {
        const port = Number(name);
        if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
        return this.cached(typeUrl, `R|${proxy.type}|${name}|${proxy.namespace}`, AGGREGATE_BUCKET, name, () =>
          buildOutboundRouteConfiguration(port, this.httpTargets(port, proxy.namespace)),
        );
      }
      case TypeUrl.Cluster:
        return gateway ? this.gatewayCluster(proxy, name) : this.sidecarCluster(proxy, name);
      case TypeUrl.Endpoint: {
        const sni = parseSniName(name);
        if (sni) return this.gatewayLoadAssignment(proxy, name, sni.hostname, sni.port);
        return this.loadAssignment(proxy, name);
      }
    }
  }

  private sidecarListener(proxy: ProxyNode, name: string): GeneratedResource | undefined {
    if (name === VIRTUAL_OUTBOUND_LISTENER) {
      return this.cached(TypeUrl.Listener, `L|${proxy.type}|${name}`, INBOUND_BUCKET, name, buildVirtualOutboundListener);
    }
    if (name === VIRTUAL_INBOUND_LISTENER) {
      const passthroughStrict = this.mtls?.mode === MtlsMode.Strict;
      return this.encode(TypeUrl.Listener, name, buildVirtualInboundListener(this.inboundPorts(proxy), passthroughStrict));
    }
    const port = parseOutboundPortListenerName(name);
    const targets = port === undefined ? undefined : this.snap().servicesByPort().get(port);
    if (port === undefined || !targets) return undefined;
    return this.cached(TypeUrl.Listener, `L|${proxy.type}|${name}`, AGGREGATE_BUCKET, name, () => {
      const hasHttp = targets.some((t) => trafficProtocol(t.port) !== TrafficProtocol.Tcp);
      return buildOutboundPortListener(port, hasHttp, this.tcpTargets(targets));
    });
  }

  private sidecarCluster(proxy: ProxyNode, name: string): GeneratedResource | undefined {
    const fixed = FIXED_SIDECAR_CLUSTERS.get(name);
    if (fixed) return this.cached(TypeUrl.Cluster, `C|${proxy.type}|${name}`, INBOUND_BUCKET, name, fixed);
    const inboundPort = parseInboundClusterName(name);
    if (inboundPort !== undefined) {
      const own = this.inboundPorts(proxy).find((p) => p.port === inboundPort);
      return this.encode(TypeUrl.Cluster, name, buildInboundCluster(inboundPort, own?.protocol ?? TrafficProtocol.Tcp));
    }
    const parsed = parseOutboundClusterName(name);
    const service = parsed && this.snap().service(parsed.hostname);
    const port = parsed && service?.ports.find((p) => p.port === parsed.port);
    if (!parsed || !service || !port) return undefined;
    return this.cached(TypeUrl.Cluster, `C|${proxy.type}|${name}`, parsed.hostname, name, () =>
      buildSidecarOutboundCluster({ hostname: parsed.hostname, port, serverSans: this.serverSans(service) }),
    );
  }

  private serverSans(service: Service): StringMatcher[] | undefined {
    const trustDomain = this.mtls?.trustDomain;
    if (trustDomain === undefined || !this.strict(service.hostname)) return undefined;
    return serverSanMatchers(trustDomain, serviceIdentities(trustDomain, service));
  }

  private gatewayCluster(proxy: ProxyNode, name: string): GeneratedResource | undefined {
    const sni = parseSniName(name);
    const service = sni && this.snap().service(sni.hostname);
    if (!sni || !service?.ports.some((p) => p.port === sni.port)) return undefined;
    return this.cached(TypeUrl.Cluster, `C|${proxy.type}|${name}`, sni.hostname, name, () => buildGatewayCluster(sni.hostname, sni.port));
  }

  /** A gateway forwards to its own cluster's endpoints only: the caller crossed networks already. */
  private gatewayLoadAssignment(proxy: ProxyNode, name: string, hostname: string, portNumber: number): GeneratedResource {
    const port = this.snap().service(hostname)?.ports.find((p) => p.port === portNumber);
    if (!port) return this.encode(TypeUrl.Endpoint, name, { cluster_name: name, endpoints: [] });
    return this.cached(TypeUrl.Endpoint, `E|${name}|${proxy.type}|${proxy.cluster}|${proxy.network}`, hostname, name, () => {
      const local = { cluster: proxy.cluster, network: proxy.network, locality: EMPTY_LOCALITY };
      const selection = selectPortEndpoints(local, port, this.snap().endpoints(hostname), () => [], { clusterLocal: true });
      return encodeLoadAssignment(name, selection);
    });
  }

  /**
   * TCP services on one port, each with the VIPs that pick it (every cluster's ClusterIPs).
   * Envoy rejects two chains with the same match, so a VIP two services claim (clusters with
   * overlapping service CIDRs) goes to the first by hostname; a service left without a VIP
   * (headless, or all claimed) cannot be told apart by address and gets no chain.
   */
  private tcpTargets(targets: ReadonlyArray<{ service: Service; port: ServicePort }>): TcpTarget[] {
    const claimed = new Set<string>();
    const out: TcpTarget[] = [];
    for (const { service, port } of targets) {
      if (trafficProtocol(port) !== TrafficProtocol.Tcp) continue;
      const vips = [...new Set(Object.keys(service.addresses).sort().flatMap((c) => service.addresses[c] ?? []))].filter((v) => !claimed.has(v));
      for (const v of vips) claimed.add(v);
      if (vips.length > 0) out.push({ hostname: service.hostname, port: port.port, vips });
    }
    return out;
  }

  /**
   * HTTP services on one port with the names a client may use for them, and its ClusterIPs
   * as the Host header carries them (IPv6 in brackets). A bare short name (`echo`) means the
   * service in the caller's own namespace, as DNS search paths make it; and since Envoy
   * rejects a domain listed twice, a name already taken is not repeated.
   */
  private httpTargets(port: number, proxyNamespace: string): HttpTarget[] {
    const taken = new Set<string>();
    const out: HttpTarget[] = [];
    for (const { service, port: sp } of this.snap().servicesByPort().get(port) ?? []) {
      if (trafficProtocol(sp) === TrafficProtocol.Tcp) continue;
      const names = serviceDomains(service.hostname, port, this.domainSuffix).filter(
        (d) => service.namespace === proxyNamespace || d.split(':')[0]?.includes('.'),
      );
      const vips = Object.keys(service.addresses).sort().flatMap((c) => service.addresses[c] ?? []);
      const hosts = vips.map((v) => (v.includes(':') ? `[${v}]` : v));
      const domains = [...names, ...hosts.flatMap((h) => [h, `${h}:${port}`])].filter((d) => {
        if (taken.has(d)) return false;
        taken.add(d);
        return true;
      });
      if (domains.length > 0) out.push({ hostname: service.hostname, port, domains });
    }
    return out;
  }

  /**
   * The ports the proxy's own workload serves: endpoints at one of its addresses in its own
   * cluster (pod CIDRs of two clusters may overlap). A port two services share is strict if
   * either is, as for proxyless inbound listeners; its protocol is the most capable declared.
   */
  private inboundPorts(proxy: ProxyNode): InboundPort[] {
    const view = this.proxyView(proxy);
    return (view.inbound ??= this.computeInboundPorts(proxy));
  }

  /**
   * Who shares a wildcard answer with whom. A sidecar's own part (15006 chains, inbound
   * clusters) depends only on its inbound ports, so sidecars with the same ports share
   * answers; gateways are keyed per proxy. Kept per proxy until the next push: every push
   * asks it for every connection.
   */
  private proxyKey(proxy: ProxyNode): string {
    const view = this.proxyView(proxy);
    if (view.key) return view.key;
    const where = `${proxy.type}|${proxy.namespace}|${proxy.cluster}|${proxy.network}`;
    view.key =
      proxy.type === ProxyType.ProxylessGrpc
        ? where
        : proxy.type === ProxyType.Sidecar
          ? `${where}|${this.inboundPorts(proxy).map((p) => `${p.port}/${p.protocol}/${p.strict}`).join(',')}`
          : `${where}|${proxy.id}`;
    return view.key;
  }

  private proxyView(proxy: ProxyNode): { generation: number; key: string; inbound: InboundPort[] | undefined } {
    let view = this.proxyViews.get(proxy);
    const { version } = this.snap();
    if (view?.generation !== version) this.proxyViews.set(proxy, (view = { generation: version, key: '', inbound: undefined }));
    return view;
  }

  private computeInboundPorts(proxy: ProxyNode): InboundPort[] {
    const byPort = new Map<number, InboundPort>();
    const rank = { [TrafficProtocol.Tcp]: 0, [TrafficProtocol.Http]: 1, [TrafficProtocol.Http2]: 2 };
    for (const address of proxy.ipAddresses) {
      for (const own of this.snap().workloadPorts().at(proxy.cluster, address)) {
        const protocol = trafficProtocol(own.port);
        const strict = this.mtls !== undefined && this.strict(own.service.hostname);
        const prev = byPort.get(own.endpoint.port);
        byPort.set(own.endpoint.port, {
          port: own.endpoint.port,
          protocol: prev && rank[prev.protocol] >= rank[protocol] ? prev.protocol : protocol,
          strict: strict || (prev?.strict ?? false),
        });
      }
    }
    return [...byPort.values()].sort((a, b) => a.port - b.port);
  }

  /**
   * Envoy subscribes to LDS and CDS by wildcard, so precision matters less than for gRPC:
   * what is regenerated but unchanged is not sent (versions are content hashes).
   * An endpoints push may move the proxy's own endpoints (virtualInbound, inbound clusters)
   * and the SANs of strict clusters; routes and port listeners follow services only.
   */
  private envoyAffects(changes: ChangeSet, typeUrl: TypeUrl, name: string | undefined): boolean {
    if (changes.everything) return true;
    const hostname = name === undefined ? undefined : hostnameOfClusterName(name);
    if (typeUrl === TypeUrl.Endpoint) {
      return name === undefined || (hostname !== undefined && (endpointsChanged(changes, hostname) || changes.gateways));
    }
    if (!changes.anyService) {
      switch (typeUrl) {
        case TypeUrl.Route:
          return false;
        case TypeUrl.Listener:
          return name === undefined || name === VIRTUAL_INBOUND_LISTENER;
        case TypeUrl.Cluster:
          if (name === undefined || parseInboundClusterName(name) !== undefined) return true;
          return hostname !== undefined && this.strict(hostname) && changes.endpoints.has(hostname);
      }
    }
    if (name === undefined || typeUrl !== TypeUrl.Cluster) return true;
    return hostname === undefined || endpointsChanged(changes, hostname);
  }

  /** `build` returns the message as a plain object, or already encoded. */
  private cached(typeUrl: TypeUrl, key: string, hostname: string, name: string, build: () => object | Uint8Array): GeneratedResource {
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.hits++;
      return hit.resource;
    }
    this.stats.misses++;
    const resource = this.encode(typeUrl, name, build());
    if (this.cache.size >= this.maxCacheEntries) this.evictOldest();
    this.cache.set(key, { resource, hostname });
    let keys = this.keysByHostname.get(hostname);
    if (!keys) this.keysByHostname.set(hostname, (keys = new Set()));
    keys.add(key);
    this.stats.entries = this.cache.size;
    return resource;
  }

  /** Oldest first rather than least recently used: a hit then costs no bookkeeping. */
  private evictOldest(): void {
    for (const [key, { hostname }] of this.cache) {
      this.cache.delete(key);
      const keys = this.keysByHostname.get(hostname);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByHostname.delete(hostname);
      this.stats.evictions++;
      return;
    }
  }

  private encode(typeUrl: TypeUrl, name: string, value: object | Uint8Array): GeneratedResource {
    const any = encodeAny(typeUrl, value instanceof Uint8Array ? value : encodeMessage(typeUrl, value));
    return { name, any, version: contentVersion(any) };
  }
}

/** The service an outbound (`outbound|…`) or SNI-named (gateway) cluster or assignment is for. */
function hostnameOfClusterName(name: string): string | undefined {
  return parseOutboundClusterName(name)?.hostname ?? parseSniName(name)?.hostname;
}

function isEnvoy(proxy: ProxyNode): boolean {
  return proxy.type === ProxyType.Sidecar || proxy.type === ProxyType.Router;
}

function isEastWestGateway(proxy: ProxyNode): boolean {
  return proxy.type === ProxyType.Router && proxy.labels[EAST_WEST_GATEWAY_LABEL.key] === EAST_WEST_GATEWAY_LABEL.value;
}

export function contentVersion(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'base64url').slice(0, 16);
}

