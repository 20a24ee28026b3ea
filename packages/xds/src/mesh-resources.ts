import { createHash } from 'node:crypto';
import {
  ProxyType,
  localityString,
  matchesAnyHost,
  touchesHostname,
  type ProxyNode,
  type PushRequest,
  type Service,
  type ServiceDiscovery,
  type ServicePort,
} from '@meridian/model';
import {
  buildApiListener,
  buildEdsCluster,
  buildInboundListener,
  buildLoadAssignment,
  buildRouteConfiguration,
} from './grpc-resources.ts';
import {
  endpointKey,
  hasMtlsOverrides,
  indexEndpointOwners,
  MtlsMode,
  mtlsModeOf,
  parseInboundListenerName,
  serverSanMatchers,
  serviceIdentities,
  type MtlsOptions,
} from './mtls.ts';
import { explainEndpoints, type EndpointSelection } from './endpoint-selection.ts';
import { encodeMessage } from './protos.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import { candidateHostnames, outboundClusterName, parseHostPort, parseOutboundClusterName } from './resource-names.ts';
import { TypeUrl } from './type-url.ts';
import { encodeAny } from './wire.ts';

export interface MeshResourcesOptions {
  readonly discovery: ServiceDiscovery;
  readonly domainSuffix: string;
  /** Hosts whose endpoints a proxy only sees from its own cluster. */
  readonly clusterLocalHosts: readonly string[];
  /** Absent: no TLS anywhere, every resource as before. */
  readonly mtls?: MtlsOptions;
}

/** Cache bucket of inbound listeners: their bytes depend only on their key, never on a hostname. */
const INBOUND_BUCKET = '';

interface Target {
  readonly service: Service;
  readonly port: ServicePort;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
}

/**
 * Builds resources from the merged registry and caches their bytes by what they depend on:
 * (type, name, hostname) for listeners, routes and clusters, plus the proxy's endpoint view
 * (cluster, network, locality) for endpoints. A push drops only the entries of the
 * hostnames it names.
 *
 * With mTLS strict for a service, its clusters carry the SPIFFE IDs of the service accounts
 * behind it. Those come from endpoints, so for such a service an endpoints push also touches
 * CDS: `affects` says so and `invalidate` drops its clusters too. Rebuilding a cluster is
 * cheap, and since versions are content hashes a cluster whose SANs did not change is not
 * sent again. (Keying the cache by SAN list instead would leave stale entries behind.)
 *
 * Inbound listeners (`xds.istio.io/grpc/lds/inbound/<ip>:<port>`, asked for by `XdsServer`s)
 * take the mode of the service whose endpoint is that ip:port, else the global mode.
 */
export class MeshResources implements ResourceSource {
  private readonly discovery: ServiceDiscovery;
  private readonly domainSuffix: string;
  private readonly clusterLocalHosts: readonly string[];
  private readonly mtls: MtlsOptions | undefined;
  /** `address|port` → hostnames of the endpoints there; rebuilt lazily after every change. */
  private endpointOwners: Map<string, string[]> | undefined;
  private readonly cache = new Map<string, GeneratedResource>();
  private readonly wildcardMemo = new Map<string, GeneratedResource[]>();
  private readonly keysByHostname = new Map<string, Set<string>>();
  readonly stats: CacheStats = { entries: 0, hits: 0, misses: 0 };

  constructor(options: MeshResourcesOptions) {
    this.discovery = options.discovery;
    this.domainSuffix = options.domainSuffix;
    this.clusterLocalHosts = options.clusterLocalHosts;
    this.mtls = options.mtls;
  }

  generate(typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[] {
    // A wildcard answer is the same list for every proxy of a kind until the next push: build
    // it once, so a push to a thousand proxies does not walk the mesh a thousand times. The
    // same array comes back each time, which also lets typeVersion() remember its hash.
    // Envoy proxies' listeners depend on their own addresses and labels: keyed per proxy.
    const who = proxy.type === ProxyType.ProxylessGrpc ? `${proxy.namespace}|${proxy.cluster}|${proxy.network}` : proxy.id;
    const memoKey = names === undefined ? `${typeUrl}|${proxy.type}|${who}` : undefined;
    const memo = memoKey === undefined ? undefined : this.wildcardMemo.get(memoKey);
    if (memo) return memo;
    const wanted = names ?? this.wildcardNames(typeUrl);
    const out: GeneratedResource[] = [];
    for (const name of wanted) {
      const resource = this.resource(typeUrl, proxy, name);
      if (resource) out.push(resource);
    }
    if (memoKey !== undefined) this.wildcardMemo.set(memoKey, out);
    return out;
  }

  affects(request: PushRequest, typeUrl: TypeUrl, proxy: ProxyNode, name: string | undefined): boolean {
    if (request.kind === 'endpoints' && !this.endpointsAffect(typeUrl, request)) return false;
    if (request.hostnames.size === 0) return request.kind === 'full';
    if (typeUrl === TypeUrl.Listener && (name === undefined || parseInboundListenerName(name))) {
      // Which service owns an ip:port is not known from the name, and may just have changed:
      // only a service with a mode of its own can move a listener away from the global mode.
      if (this.inboundAffected(request)) return true;
      if (name !== undefined) return false;
    }
    if (name === undefined) return true;
    const hostnames = this.hostnamesOf(typeUrl, proxy, name);
    return hostnames.some((h) => touchesHostname(request, h) && (request.kind === 'full' || this.endpointsAffectHost(typeUrl, h)));
  }

  invalidate(request: PushRequest): void {
    this.endpointOwners = undefined;
    this.wildcardMemo.clear();
    if (request.kind === 'full' && request.hostnames.size === 0) {
      this.cache.clear();
      this.keysByHostname.clear();
    }
    for (const hostname of request.hostnames) {
      const keys = this.keysByHostname.get(hostname);
      if (!keys) continue;
      const dropClusters = this.strict(hostname);
      for (const key of keys) {
        if (request.kind === 'full' || key.startsWith('E|') || (dropClusters && key.startsWith('C|'))) {
          this.cache.delete(key);
          keys.delete(key);
        }
      }
      if (keys.size === 0) this.keysByHostname.delete(hostname);
    }
    this.stats.entries = this.cache.size;
  }

  /** Whether an endpoints-only push may change resources of this type at all. */
  private endpointsAffect(typeUrl: TypeUrl, request: PushRequest): boolean {
    switch (typeUrl) {
      case TypeUrl.Endpoint:
        return true;
      case TypeUrl.Cluster:
        return this.mtls !== undefined && (request.hostnames.size === 0 || [...request.hostnames].some((h) => this.strict(h)));
      case TypeUrl.Listener:
        return this.inboundAffected(request);
      case TypeUrl.Route:
        return false;
    }
  }

  /** For an endpoints push that names `hostname`: does it change this type's resources of it? */
  private endpointsAffectHost(typeUrl: TypeUrl, hostname: string): boolean {
    return typeUrl === TypeUrl.Endpoint || (typeUrl === TypeUrl.Cluster && this.strict(hostname));
  }

  private inboundAffected(request: PushRequest): boolean {
    if (!hasMtlsOverrides(this.mtls)) return false;
    if (request.hostnames.size === 0) return true;
    const global = this.mtls?.mode ?? MtlsMode.Disable;
    return [...request.hostnames].some((h) => mtlsModeOf(this.mtls, h) !== global);
  }

  private strict(hostname: string): boolean {
    return mtlsModeOf(this.mtls, hostname) === MtlsMode.Strict;
  }

  private wildcardNames(typeUrl: TypeUrl): string[] {
    if (typeUrl === TypeUrl.Endpoint || typeUrl === TypeUrl.Route) return [];
    return this.discovery.services().flatMap((s) =>
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
      const service = this.discovery.service(hostname);
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
        const service = parsed && this.discovery.service(parsed.hostname);
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
    this.endpointOwners ??= indexEndpointOwners(this.discovery.services(), (h) => this.discovery.endpoints(h));
    const owners = this.endpointOwners.get(endpointKey(address, port)) ?? [];
    if (owners.length === 0) return global;
    return owners.some((h) => this.strict(h)) ? MtlsMode.Strict : MtlsMode.Disable;
  }

  /**
   * Why a proxy gets what it gets for each port of a service (`/debug/endpointz`): the same
   * selection the EDS generator serves, uncached, so it reflects the registry right now.
   */
  explainEndpoints(proxy: ProxyNode, hostname: string): Array<{ clusterName: string; port: ServicePort; selection: EndpointSelection }> {
    const service = this.discovery.service(hostname);
    if (!service) return [];
    return service.ports.map((port) => ({
      clusterName: outboundClusterName(hostname, port.port),
      port,
      selection: this.select(proxy, hostname, port),
    }));
  }

  private select(proxy: ProxyNode, hostname: string, port: ServicePort): EndpointSelection {
    return explainEndpoints(proxy, port, this.discovery.endpoints(hostname), (n) => this.discovery.networkGateways(n), {
      clusterLocal: matchesAnyHost(this.clusterLocalHosts, hostname),
    });
  }

  private loadAssignment(proxy: ProxyNode, name: string): GeneratedResource {
    const parsed = parseOutboundClusterName(name);
    if (!parsed) return this.encode(TypeUrl.Endpoint, name, { cluster_name: name, endpoints: [] });
    const { hostname } = parsed;
    const clusterLocal = matchesAnyHost(this.clusterLocalHosts, hostname);
    // Everything the selection reads from the proxy is in here. Gateways are not: a gateway
    // change arrives as a full push for every hostname, which empties the whole cache.
    const view = `${clusterLocal ? proxy.cluster : '*'}|${proxy.network}|${localityString(proxy.locality)}`;
    return this.cached(TypeUrl.Endpoint, `E|${name}|${view}`, hostname, name, () => {
      const port = this.discovery.service(hostname)?.ports.find((p) => p.port === parsed.port);
      if (!port) return { cluster_name: name, endpoints: [] };
      return buildLoadAssignment(name, this.select(proxy, hostname, port));
    });
  }

  private cached(typeUrl: TypeUrl, key: string, hostname: string, name: string, build: () => object): GeneratedResource {
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const resource = this.encode(typeUrl, name, build());
    this.cache.set(key, resource);
    let keys = this.keysByHostname.get(hostname);
    if (!keys) this.keysByHostname.set(hostname, (keys = new Set()));
    keys.add(key);
    this.stats.entries = this.cache.size;
    return resource;
  }

  private encode(typeUrl: TypeUrl, name: string, value: object): GeneratedResource {
    const any = encodeAny(typeUrl, encodeMessage(typeUrl, value));
    return { name, any, version: contentVersion(any) };
  }
}

export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}
