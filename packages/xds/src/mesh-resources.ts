import { createHash } from 'node:crypto';
import {
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
  buildLoadAssignment,
  buildRouteConfiguration,
} from './grpc-resources.ts';
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
}

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
 */
export class MeshResources implements ResourceSource {
  private readonly discovery: ServiceDiscovery;
  private readonly domainSuffix: string;
  private readonly clusterLocalHosts: readonly string[];
  private readonly cache = new Map<string, GeneratedResource>();
  private readonly keysByHostname = new Map<string, Set<string>>();
  readonly stats: CacheStats = { entries: 0, hits: 0, misses: 0 };

  constructor(options: MeshResourcesOptions) {
    this.discovery = options.discovery;
    this.domainSuffix = options.domainSuffix;
    this.clusterLocalHosts = options.clusterLocalHosts;
  }

  generate(typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[] {
    const wanted = names ?? this.wildcardNames(typeUrl);
    const out: GeneratedResource[] = [];
    for (const name of wanted) {
      const resource = this.resource(typeUrl, proxy, name);
      if (resource) out.push(resource);
    }
    return out;
  }

  affects(request: PushRequest, typeUrl: TypeUrl, proxy: ProxyNode, name: string | undefined): boolean {
    if (request.kind === 'endpoints' && typeUrl !== TypeUrl.Endpoint) return false;
    if (request.hostnames.size === 0) return request.kind === 'full';
    if (name === undefined) return true;
    const hostnames = this.hostnamesOf(typeUrl, proxy, name);
    return hostnames.some((h) => touchesHostname(request, h));
  }

  invalidate(request: PushRequest): void {
    if (request.kind === 'full' && request.hostnames.size === 0) {
      this.cache.clear();
      this.keysByHostname.clear();
    }
    for (const hostname of request.hostnames) {
      const keys = this.keysByHostname.get(hostname);
      if (!keys) continue;
      for (const key of keys) {
        if (request.kind === 'full' || key.startsWith('E|')) {
          this.cache.delete(key);
          keys.delete(key);
        }
      }
      if (keys.size === 0) this.keysByHostname.delete(hostname);
    }
    this.stats.entries = this.cache.size;
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
        if (!parsed || !port) return undefined;
        return this.cached(typeUrl, `C|${name}`, parsed.hostname, name, () => buildEdsCluster(parsed.hostname, port));
      }
      case TypeUrl.Endpoint:
        return this.loadAssignment(proxy, name);
    }
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
