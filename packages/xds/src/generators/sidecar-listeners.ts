import { ipInBlock, type L4Match, type L4RouteRule, type ProxyNode } from '@meridian/model';
import type { ChangeSet } from '../change-set.ts';
import {
  buildOutboundPortListener,
  buildVirtualInboundListener,
  buildVirtualOutboundListener,
  isTlsPort,
  trafficProtocol,
  TrafficProtocol,
  VIRTUAL_INBOUND_LISTENER,
  VIRTUAL_OUTBOUND_LISTENER,
  type TcpTarget,
} from '../envoy-resources.ts';
import type { PushSnapshot, ServicePortRef } from '../push-snapshot.ts';
import { httpRbacStageFilters, rbacFilters } from '../rbac.ts';
import { outboundClusterName, outboundPortListenerName, parseOutboundPortListenerName } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { withTracing } from '../tracing.ts';
import { TypeUrl } from '../type-url.ts';
import { anyValue } from '../wire.ts';
import { buildEach, encodeResource, type Generator } from './generator.ts';
import { grpcListener } from './grpc-listeners.ts';
import type { ProxyViews } from './proxy-view.ts';
import type { Dependency, ResourceCache } from './resource-cache.ts';
import { routeView } from './route-policy.ts';

/**
 * LDS for Envoy sidecars: virtualOutbound (15001), one `0.0.0.0_<port>` listener per port
 * any service uses, and virtualInbound (15006) built from the proxy's own endpoints. The
 * port listeners gather every service on their port, so any service change drops them;
 * virtualInbound is built once per push for sidecars alike (same ports and policies), not
 * cached across pushes, since its inputs (endpoints, policies, keys) change with most of them.
 * Tracing names the workload: each listener is built without it and given each workload's
 * tracing afterwards (`withTracing`).
 *
 * A proxyless gRPC client may use Istio's node id form too (Istio's own agent writes such
 * bootstraps), so the id alone does not say Envoy. What does: Envoy takes listeners by
 * wildcard, while a gRPC client names each one; so a named listener that is not Envoy's
 * own is looked up as a proxyless one.
 */
export function sidecarListeners(cache: ResourceCache, views: ProxyViews): Generator {
  // virtualInbound as sidecars alike but for tracing have it, for the push under way.
  let untracedInbound = { snapshot: -1, byView: new Map<string, GeneratedResource>() };
  const own = (snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined => {
    if (name === VIRTUAL_OUTBOUND_LISTENER) {
      const registryOnly = snapshot.scopeOf(proxy)?.registryOnly === true;
      return cache.resource({ type: TypeUrl.Listener, name, view: `${proxy.type}|${registryOnly}` }, [], () => buildVirtualOutboundListener(registryOnly));
    }
    if (name === VIRTUAL_INBOUND_LISTENER) {
      const observed = views.observability(snapshot, proxy, 'server');
      if (untracedInbound.snapshot !== snapshot.version) untracedInbound = { snapshot: snapshot.version, byView: new Map() };
      const viewKey = views.untracedKey(snapshot, proxy);
      let untraced = untracedInbound.byView.get(viewKey);
      if (!untraced) {
        const tcp = views.rbac(snapshot, proxy, 'tcp');
        const jwt = views.jwtFilter(snapshot, proxy);
        const authz = { http: [...(jwt ? [jwt] : []), ...httpRbacStageFilters()], tcp: (statPrefix: string) => rbacFilters(tcp, 'tcp', statPrefix) };
        untraced = encodeResource(TypeUrl.Listener, name, buildVirtualInboundListener(views.inboundPorts(snapshot, proxy), snapshot.inboundMtls(proxy, 0, []), authz, observed.config));
        untracedInbound.byView.set(viewKey, untraced);
      }
      return observed.tracing ? encodeResource(TypeUrl.Listener, name, withTracing(anyValue(untraced.any), observed.tracing.field)) : untraced;
    }
    const port = parseOutboundPortListenerName(name);
    const targets = port === undefined ? undefined : snapshot.servicesByPort(proxy).get(port);
    if (port === undefined || !targets) return undefined;
    // A Sidecar's egress scope decides which services the port's chains know; Telemetry, what they log.
    // TCP routes depend on who calls (exportTo, source matches), as HTTP routes do: the same view.
    const observed = views.observability(snapshot, proxy, 'client');
    const view = `${routeView(snapshot, proxy)}|${observed.key}`;
    const untraced = cache.resource({ type: TypeUrl.Listener, name, view }, PORT_LISTENER_DEPENDENCIES, () => {
      const hasHttp = targets.some((t) => trafficProtocol(t.port) !== TrafficProtocol.Tcp);
      const routed = tcpTargets(targets).map((t) => ({ ...t, ...tcpRoutes(snapshot, proxy, t) }));
      return buildOutboundPortListener(port, hasHttp, routed, observed.config, snapshot.scopeOf(proxy)?.registryOnly === true);
    });
    const tracing = observed.tracing;
    if (!tracing) return untraced;
    return cache.resource({ type: TypeUrl.Listener, name, view: `${view}|${tracing.key}` }, PORT_LISTENER_DEPENDENCIES, () => withTracing(anyValue(untraced.any), tracing.field));
  };
  return {
    needsPush: envoyListenersNeedPush,
    generate(snapshot, proxy, names) {
      if (names) return buildEach(names, (name) => own(snapshot, proxy, name) ?? grpcListener(cache, snapshot, proxy, name));
      const ports = [...snapshot.servicesByPort(proxy).keys()].map(outboundPortListenerName);
      return buildEach([VIRTUAL_OUTBOUND_LISTENER, ...ports, VIRTUAL_INBOUND_LISTENER], (name) => own(snapshot, proxy, name));
    },
  };
}

const PORT_LISTENER_DEPENDENCIES: readonly Dependency[] = [{ on: 'any-service' }, { on: 'traffic-policy' }, { on: 'telemetry' }];

/**
 * Envoy takes listeners by wildcard, so precision matters less than for gRPC: what is
 * regenerated but unchanged is not sent (versions are content hashes). An endpoints change
 * may move the proxy's own endpoints (virtualInbound); the rest follows services, Sidecars,
 * Telemetry and route objects (TCP and TLS routes), never a DestinationRule alone.
 */
export function envoyListenersNeedPush(changes: ChangeSet, _snapshot: PushSnapshot, _proxy: ProxyNode, name: string | undefined): boolean {
  if (changes.everything || changes.anyService || changes.scopes || changes.telemetry) return true;
  // A VirtualService's TCP and TLS routes are in the port listeners.
  if (changes.routeRules && name !== VIRTUAL_INBOUND_LISTENER) return true;
  if (changes.securityPolicy && (name === undefined || name === VIRTUAL_INBOUND_LISTENER)) return true;
  return changes.endpoints.size > 0 && (name === undefined || name === VIRTUAL_INBOUND_LISTENER);
}

/**
 * A VirtualService's `tcp` route for a TCP service port, as this proxy is given it: the first
 * rule whose match holds (port, source namespace and labels, destination subnets against the
 * service's VIPs), as its weighted clusters; nothing when no rule applies.
 */
function tcpRoutes(snapshot: PushSnapshot, proxy: ProxyNode, target: TcpTarget & { tls: boolean }): Pick<TcpTarget, 'routes'> {
  const routes = snapshot.policies?.traffic.routesFor(target.hostname, target.port, { namespace: proxy.namespace });
  // A TLS port's connections follow the first `tls` rule that holds (matched on the SNI, which
  // is the host), else the `tcp` ones, as Istio's; other ports the `tcp` ones.
  const holds = (r: L4RouteRule) => r.matches.length === 0 || r.matches.some((m) => l4Matches(m, proxy, target));
  const rule = (target.tls ? routes?.tls.find(holds) : undefined) ?? routes?.tcp.find(holds);
  if (!rule) return {};
  return { routes: rule.targets.map((t) => ({ cluster: outboundClusterName(t.host, t.port ?? target.port, t.subset ?? ''), weight: t.weight })) };
}

function l4Matches(m: L4Match, proxy: ProxyNode, target: TcpTarget): boolean {
  if (m.port !== undefined && m.port !== target.port) return false;
  if (m.sniHosts.length > 0 && !m.sniHosts.some((h) => h === target.hostname || (h.startsWith('*.') && target.hostname.endsWith(h.slice(1))))) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== proxy.namespace) return false;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => proxy.labels[k] === v)) return false;
  if (m.destinationSubnets.length > 0 && !target.vips.some((vip) => m.destinationSubnets.some((block) => ipInBlock(block, vip)))) return false;
  return true;
}

/**
 * TCP services on one port, each with the VIPs that pick it (every cluster's ClusterIPs);
 * a TLS port without a VIP (an external host's 443) is picked by the SNI its clients send.
 * Envoy rejects two chains with the same match, so a VIP two services claim (clusters with
 * overlapping service CIDRs) goes to the first by hostname; a service left without a VIP
 * (headless, or all claimed) and not TLS cannot be told apart and gets no chain.
 */
function tcpTargets(targets: readonly ServicePortRef[]): Array<TcpTarget & { tls: boolean }> {
  const claimed = new Set<string>();
  const out: Array<TcpTarget & { tls: boolean }> = [];
  for (const { service, port } of targets) {
    if (trafficProtocol(port) !== TrafficProtocol.Tcp) continue;
    const tls = isTlsPort(port);
    const vips = [...new Set(Object.keys(service.addresses).sort().flatMap((c) => service.addresses[c] ?? []))].filter((v) => !claimed.has(v));
    for (const v of vips) claimed.add(v);
    if (vips.length > 0) out.push({ hostname: service.hostname, port: port.port, vips, tls });
    else if (tls) out.push({ hostname: service.hostname, port: port.port, vips: [], serverNames: [service.hostname], tls });
  }
  return out;
}
