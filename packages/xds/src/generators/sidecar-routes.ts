import { ClientKind, type ProxyNode } from '@meridian/model';
import type { ChangeSet } from '../change-set.ts';
import { buildInboundRouteConfiguration, buildOutboundRouteConfiguration, trafficProtocol, TrafficProtocol, type HttpTarget } from '../envoy-resources.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { rbacPerRoute } from '../rbac.ts';
import { parseInboundClusterName, serviceDomains } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, encodeResource, type Generator } from './generator.ts';
import { grpcRoute } from './grpc-routes.ts';
import type { ProxyViews } from './proxy-view.ts';
import type { ResourceCache } from './resource-cache.ts';
import { hostRoutes, routeContext, routeView } from './route-policy.ts';

/**
 * RDS for Envoy proxies: the route configuration `<port>` of each outbound port listener,
 * one virtual host per HTTP service on the port, with the routes traffic policy gives the
 * proxy for it (or one to the service's cluster). It gathers every service on the port, so
 * any service or traffic policy change drops it; it depends on the proxy's namespace. A named
 * route that is not a port is looked up as a proxyless one (see sidecarListeners).
 */
export function sidecarRoutes(cache: ResourceCache, views: ProxyViews): Generator {
  const own = (snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined => {
    const inboundPort = parseInboundClusterName(name);
    if (inboundPort !== undefined) {
      // Built per request, like the 15006 listener: it carries the workload's own policies.
      return encodeResource(TypeUrl.Route, name, buildInboundRouteConfiguration(inboundPort, rbacPerRoute(views.rbac(snapshot, proxy, 'http'))));
    }
    const port = Number(name);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    return cache.resource({ type: TypeUrl.Route, name, view: routeView(snapshot, proxy) }, ROUTE_DEPENDENCIES, () =>
      buildOutboundRouteConfiguration(port, httpTargets(snapshot, port, proxy), snapshot.scopeOf(proxy)?.registryOnly === true),
    );
  };
  return {
    needsPush: envoyRoutesNeedPush,
    generate(snapshot, proxy, names) {
      return buildEach(names ?? [], (name) => own(snapshot, proxy, name) ?? grpcRoute(cache, snapshot, proxy, name));
    },
  };
}

/** Outbound routes follow services and traffic policy, never endpoints; inbound ones security policy. */
export function envoyRoutesNeedPush(changes: ChangeSet, _snapshot: PushSnapshot, _proxy: ProxyNode, name: string | undefined): boolean {
  if (changes.everything) return true;
  const inbound = name !== undefined && parseInboundClusterName(name) !== undefined;
  if (changes.securityPolicy && (name === undefined || inbound)) return true;
  return !inbound && (changes.anyService || changes.trafficPolicy);
}

const ROUTE_DEPENDENCIES = [{ on: 'any-service' }, { on: 'traffic-policy' }] as const;

/**
 * HTTP services on one port with the names a client may use for them, and its ClusterIPs
 * as the Host header carries them (IPv6 in brackets). A bare short name (`echo`) means the
 * service in the caller's own namespace, as DNS search paths make it; and since Envoy
 * rejects a domain listed twice, a name already taken is not repeated.
 */
function httpTargets(snapshot: PushSnapshot, port: number, proxy: ProxyNode): HttpTarget[] {
  const proxyNamespace = proxy.namespace;
  const ctx = routeContext(snapshot, proxy, ClientKind.Envoy, port);
  const taken = new Set<string>();
  const out: HttpTarget[] = [];
  for (const { service, port: sp } of snapshot.servicesByPort(proxy).get(port) ?? []) {
    if (trafficProtocol(sp) === TrafficProtocol.Tcp) continue;
    const names = serviceDomains(service.hostname, port, snapshot.domainSuffix).filter(
      (d) => service.namespace === proxyNamespace || d.split(':')[0]?.includes('.'),
    );
    // A ServiceEntry's CIDR block is no Host a request carries.
    const vips = Object.keys(service.addresses).sort().flatMap((c) => service.addresses[c] ?? []).filter((v) => !v.includes('/'));
    const hosts = vips.map((v) => (v.includes(':') ? `[${v}]` : v));
    const domains = [...names, ...hosts.flatMap((h) => [h, `${h}:${port}`])].filter((d) => {
      if (taken.has(d)) return false;
      taken.add(d);
      return true;
    });
    if (domains.length > 0) out.push({ hostname: service.hostname, port, domains, routes: hostRoutes(snapshot, service.hostname, ctx), ...(service.entry?.external ? { external: true } : {}) });
  }
  return out;
}
