import { ClientKind, type ProxyNode } from '@meridian/model';
import { serviceChanged } from '../change-set.ts';
import { buildRouteConfiguration } from '../grpc-resources.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, type Generator } from './generator.ts';
import { hostnamesOfName, resolveTarget } from './grpc-listeners.ts';
import type { ResourceCache } from './resource-cache.ts';
import { hostRoutes, routeContext, routeView } from './route-policy.ts';

/** RDS for proxyless gRPC: the route configuration each API listener names (`host:port`). */
export function grpcRoutes(cache: ResourceCache): Generator {
  return {
    needsPush(changes, snapshot, proxy, name) {
      if (changes.everything || changes.trafficPolicy) return true;
      if (name === undefined) return changes.anyService;
      return hostnamesOfName(snapshot, proxy, name).some((h) => serviceChanged(changes, h));
    },
    generate(snapshot, proxy, names) {
      return buildEach(names ?? [], (name) => grpcRoute(cache, snapshot, proxy, name));
    },
  };
}

/** A proxyless route configuration by name; also what an Envoy naming one gets. */
export function grpcRoute(cache: ResourceCache, snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined {
  const target = resolveTarget(snapshot, proxy, name);
  if (!target) return undefined;
  const { hostname } = target.service;
  const port = target.port.port;
  // Named for a host: its routes differ by caller only through policy (routeView).
  return cache.resource({ type: TypeUrl.Route, name, view: `${hostname}|${routeView(snapshot, proxy)}` }, [{ on: 'service', hostname }, { on: 'traffic-policy' }], () =>
    buildRouteConfiguration(name, hostname, port, snapshot.domainSuffix, hostRoutes(snapshot, hostname, routeContext(snapshot, proxy, ClientKind.Grpc, port))),
  );
}
