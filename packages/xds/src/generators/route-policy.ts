import { scopeKey, type ClientKind, type ProxyNode } from '@meridian/model';
import { buildDefaultRoute, buildPolicyRoutes, type RouteBuildContext } from '../policy-routes.ts';
import type { PushSnapshot } from '../push-snapshot.ts';

/**
 * What a route configuration reads from the proxy: its namespace (short names, exportTo,
 * consumer routes), and its labels only while some route matches on caller labels.
 */
export function routeView(snapshot: PushSnapshot, proxy: ProxyNode): string {
  const labels = snapshot.policies?.traffic.usesSourceLabels ? `|${JSON.stringify(Object.entries(proxy.labels).sort())}` : '';
  return `${proxy.type}|${proxy.namespace}|${scopeKey(snapshot.scopeOf(proxy))}${labels}`;
}

/** How routes are built for this proxy: its client kind, who it is, and the DestinationRules it sees. */
export function routeContext(snapshot: PushSnapshot, proxy: ProxyNode, client: ClientKind, port: number): RouteBuildContext {
  const caller = { namespace: proxy.namespace, labels: proxy.labels };
  return { client, caller, port, destinationFor: (host) => snapshot.policies?.traffic.destinationFor(host, caller), isExternal: (host) => snapshot.service(host)?.entry?.external === true };
}

/** A host's routes as this proxy is given them: its policy's rules, or the default route. */
export function hostRoutes(snapshot: PushSnapshot, hostname: string, ctx: RouteBuildContext): object[] {
  const routes = snapshot.policies?.traffic.routesFor(hostname, ctx.port, ctx.caller);
  return routes ? buildPolicyRoutes(routes, ctx) : [buildDefaultRoute(hostname, ctx)];
}
