import type { ProxyNode } from '@meridian/model';
import { serviceChanged } from '../change-set.ts';
import { buildRouteConfiguration } from '../grpc-resources.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, type Generator } from './generator.ts';
import { hostnamesOfName, resolveTarget } from './grpc-listeners.ts';
import type { ResourceCache } from './resource-cache.ts';

/** RDS for proxyless gRPC: the route configuration each API listener names (`host:port`). */
export function grpcRoutes(cache: ResourceCache): Generator {
  return {
    needsPush(changes, snapshot, proxy, name) {
      if (changes.everything) return true;
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
  return cache.resource({ type: TypeUrl.Route, name, view: hostname }, [{ on: 'service', hostname }], () =>
    buildRouteConfiguration(name, hostname, target.port.port, snapshot.domainSuffix),
  );
}
