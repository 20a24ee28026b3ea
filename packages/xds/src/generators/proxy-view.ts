import { ALL_WORKLOAD_METRICS, ClientKind, ProxyType, scopeKey, type AuthzPolicy, type ProxyNode, type RequestAuthn } from '@meridian/model';
import { accessLogKey, accessLogs } from '../access-log.ts';
import { trafficProtocol, TrafficProtocol, type InboundPort, type Observability } from '../envoy-resources.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { jwtAuthnFilter, jwtIssuers } from '../jwt-authn.ts';
import { policySetKey, rbacOptions, rbacStages, type RbacOptions, type RbacStage } from '../rbac.ts';
import { collectorClusterName, encodedTracing, type EncodedTracing } from '../tracing.ts';
import { metricsKey, metricsLogger, peerExchangeFilters, peerStripFilters } from '../workload-metrics.ts';

interface View {
  readonly snapshot: number;
  key: string | undefined;
  untracedKey: string | undefined;
  inbound: InboundPort[] | undefined;
  authz: readonly AuthzPolicy[] | undefined;
  requestAuthn: readonly RequestAuthn[] | undefined;
  jwt: { filter: object | undefined } | undefined;
  rbac: Partial<Record<RbacOptions['protocol'], ReadonlyMap<RbacStage, object>>>;
  observed: Partial<Record<Direction, Observed>>;
}

type Direction = 'client' | 'server';

/**
 * What a workload's Telemetry adds to one direction of its connection managers, and the key
 * proxies alike in it share by. Tracing apart: the tracer names the workload, so listeners
 * alike but for it are built once and given each workload's tracing afterwards (`withTracing`).
 */
export interface Observed {
  /** Access logs and metrics. */
  readonly config: Observability;
  readonly key: string;
  readonly tracing?: EncodedTracing;
}

/**
 * What a proxy's resources depend on besides the mesh, worked out once per proxy and
 * snapshot (every push asks for every connection): its own inbound ports, and the key of
 * the view it shares answers with.
 */
export class ProxyViews {
  private readonly views = new WeakMap<ProxyNode, View>();

  /**
   * The ports the proxy's own workload serves: endpoints at one of its addresses in its own
   * cluster (pod CIDRs of two clusters may overlap). A port two services share is strict if
   * either is, as for proxyless inbound listeners; its protocol is the most capable declared.
   * A PeerAuthentication that applies to the workload decides its mTLS mode.
   */
  inboundPorts(snapshot: PushSnapshot, proxy: ProxyNode): InboundPort[] {
    const view = this.view(snapshot, proxy);
    return (view.inbound ??= computeInboundPorts(snapshot, proxy));
  }

  /** The AuthorizationPolicies that select the proxy's workload. */
  authorization(snapshot: PushSnapshot, proxy: ProxyNode): readonly AuthzPolicy[] {
    const view = this.view(snapshot, proxy);
    return (view.authz ??= snapshot.authorizationFor({ namespace: proxy.namespace, labels: proxy.labels }));
  }

  /** The RequestAuthentications that select the proxy's workload. */
  requestAuthentication(snapshot: PushSnapshot, proxy: ProxyNode): readonly RequestAuthn[] {
    const view = this.view(snapshot, proxy);
    return (view.requestAuthn ??= snapshot.requestAuthenticationFor({ namespace: proxy.namespace, labels: proxy.labels }));
  }

  /** The sidecar's JWT filter for its HTTP chains; `undefined` when no RequestAuthentication selects it. */
  jwtFilter(snapshot: PushSnapshot, proxy: ProxyNode): object | undefined {
    const view = this.view(snapshot, proxy);
    view.jwt ??= { filter: jwtAuthnFilter(this.requestAuthentication(snapshot, proxy), (uri) => snapshot.jwks(uri)) };
    return view.jwt.filter;
  }

  /**
   * The sidecar's RBAC stages compiled for one protocol: once per snapshot, however many
   * chains (15006) and inbound routes use them.
   */
  rbac(snapshot: PushSnapshot, proxy: ProxyNode, protocol: RbacOptions['protocol']): ReadonlyMap<RbacStage, object> {
    const view = this.view(snapshot, proxy);
    return (view.rbac[protocol] ??= rbacStages(this.authorization(snapshot, proxy), rbacOptions(snapshot, protocol, ClientKind.Envoy, jwtIssuers(this.requestAuthentication(snapshot, proxy)))));
  }

  /**
   * The access logs and tracing the proxy's Telemetry gives one direction of its traffic:
   * once per snapshot, however many port listeners carry them.
   */
  observability(snapshot: PushSnapshot, proxy: ProxyNode, direction: Direction): Observed {
    const view = this.view(snapshot, proxy);
    return (view.observed[direction] ??= computeObserved(snapshot, proxy, direction));
  }

  /**
   * Who shares an answer with whom. A sidecar's own part (15006 chains, inbound clusters)
   * depends only on its inbound ports and the policies selecting it, so sidecars with the
   * same ports and policies share answers; gateways are keyed per proxy.
   */
  key(snapshot: PushSnapshot, proxy: ProxyNode): string {
    const view = this.view(snapshot, proxy);
    if (view.key !== undefined) return view.key;
    const tracing = proxy.type === ProxyType.Sidecar ? (['client', 'server'] as const).map((d) => this.observability(snapshot, proxy, d).tracing?.key ?? '').join('|') : '';
    view.key = `${this.untracedKey(snapshot, proxy)}|${tracing}`;
    return view.key;
  }

  /**
   * The same but for tracing, which names the workload: sidecars alike in all else share the
   * untraced build of what they are sent and add their own tracing to it.
   */
  untracedKey(snapshot: PushSnapshot, proxy: ProxyNode): string {
    const view = this.view(snapshot, proxy);
    if (view.untracedKey !== undefined) return view.untracedKey;
    const where = `${proxy.type}|${proxy.namespace}|${proxy.cluster}|${proxy.network}|${scopeKey(snapshot.scopeOf(proxy))}`;
    view.untracedKey =
      proxy.type === ProxyType.ProxylessGrpc
        ? where
        : proxy.type === ProxyType.Sidecar
          ? `${where}|${this.inboundPorts(snapshot, proxy).map((p) => `${p.port}/${p.protocol}/${p.mtls}`).join(',')}|${snapshot.inboundMtls(proxy, 0, [])}|${policySetKey(this.authorization(snapshot, proxy))}|${policySetKey(this.requestAuthentication(snapshot, proxy))}|${this.selectedByLabels(snapshot, proxy)}`
          : `${where}|${proxy.id}`;
    return view.untracedKey;
  }

  /**
   * What labels select besides security policies: the Telemetry that applies (logs and
   * metrics per direction), and the routes when some rule matches on the caller's labels.
   */
  private selectedByLabels(snapshot: PushSnapshot, proxy: ProxyNode): string {
    const routes = snapshot.policies?.traffic.usesSourceLabels ? `|${JSON.stringify(Object.entries(proxy.labels).sort())}` : '';
    return `${this.observability(snapshot, proxy, 'client').key}|${this.observability(snapshot, proxy, 'server').key}${routes}`;
  }

  private view(snapshot: PushSnapshot, proxy: ProxyNode): View {
    let view = this.views.get(proxy);
    if (view?.snapshot !== snapshot.version) this.views.set(proxy, (view = { snapshot: snapshot.version, key: undefined, untracedKey: undefined, inbound: undefined, authz: undefined, requestAuthn: undefined, jwt: undefined, rbac: {}, observed: {} }));
    return view;
  }
}

function computeObserved(snapshot: PushSnapshot, proxy: ProxyNode, direction: Direction): Observed {
  const logProviders = snapshot.accessLogProvidersFor(proxy, direction);
  const trace = snapshot.tracingFor(proxy, direction);
  const metrics = snapshot.metricsFor(proxy, direction);
  // The exchange serves the peer's metrics too: only where the workload emits none at all is
  // nothing stamped or recorded (the peer's headers are still kept from the application).
  const silent = metrics.disabled.length === ALL_WORKLOAD_METRICS.length && snapshot.metricsFor(proxy, direction === 'client' ? 'server' : 'client').disabled.length === ALL_WORKLOAD_METRICS.length;
  const strip = peerStripFilters(direction);
  const exchange = silent ? strip : peerExchangeFilters(direction);
  return {
    config: {
      accessLogs: (protocol) => accessLogs(logProviders, direction, protocol, (collector) => ({ cluster: collectorClusterName(collector, snapshot), authority: `${collector.service}:${collector.port}` })),
      metrics: { loggers: (protocol) => metricsLogger(direction, protocol, metrics), exchange, strip },
    },
    key: `${accessLogKey(logProviders)}|${metricsKey(metrics)}${silent ? '|silent' : ''}`,
    // The cluster's name is not a valid :authority (a gRPC server refuses it): the collector's address is.
    ...(trace ? { tracing: encodedTracing(trace.settings, { cluster: collectorClusterName(trace.provider, snapshot), provider: trace.provider }, proxy, direction) } : {}),
  };
}

const PROTOCOL_RANK = { [TrafficProtocol.Tcp]: 0, [TrafficProtocol.Http]: 1, [TrafficProtocol.Http2]: 2 };

function computeInboundPorts(snapshot: PushSnapshot, proxy: ProxyNode): InboundPort[] {
  const byPort = new Map<number, { protocol: TrafficProtocol; hostnames: string[] }>();
  const index = snapshot.workloadPorts();
  for (const address of proxy.ipAddresses) {
    for (const own of index.at(proxy.cluster, address)) {
      const protocol = trafficProtocol(own.port);
      const prev = byPort.get(own.endpoint.port);
      if (!prev) byPort.set(own.endpoint.port, { protocol, hostnames: [own.service.hostname] });
      else {
        if (PROTOCOL_RANK[protocol] > PROTOCOL_RANK[prev.protocol]) prev.protocol = protocol;
        prev.hostnames.push(own.service.hostname);
      }
    }
  }
  return [...byPort]
    .map(([port, p]) => ({ port, protocol: p.protocol, mtls: snapshot.inboundMtls(proxy, port, p.hostnames) }))
    .sort((a, b) => a.port - b.port);
}
