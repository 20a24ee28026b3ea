/**
 * Builders of the resources an Envoy sidecar (and an east-west gateway) consumes, Istio's
 * shapes and names so tooling and habits carry over. Plain objects in protobufjs' snake_case
 * shape, `@type` inside each `Any`; every builder is pure.
 *
 * Listener design: Istio's capture model. Traffic reaches Envoy through iptables (istio-init
 * or the CNI plugin): outbound connections are redirected to `virtualOutbound` (15001), which
 * hands each one to the listener of its original destination port (`0.0.0.0_<port>`, bound to
 * no socket); inbound connections are redirected to `virtualInbound` (15006), whose filter
 * chains pick by original destination port. Plain per-port listeners bound on the pod would
 * need every application to dial localhost explicitly, and would collide with the
 * application's own ports whenever a service port equals a container port (common: 8080,
 * 7070). Capture keeps applications unchanged, is what a pod injected by Istio's tooling
 * already has, and is the only way the inbound side can terminate mTLS transparently.
 */
import { discoveryFields, type ClusterDiscovery } from './cluster-discovery.ts';
import { NO_PEER_STAMP, peerServiceHeader, serviceMetadata } from './workload-metrics.ts';
import { ClientKind, PeerMtlsMode, type ClusterPolicy, type ServicePort } from '@meridian/model';
import type { LoadAssignmentPolicy } from './load-assignment.ts';
import { IDENTITY_CERTIFICATE_NAME, ROOT_CERTIFICATE_NAME, type StringMatcher } from './mtls.ts';
import { inboundClusterName, outboundClusterName, outboundPortListenerName, sniName } from './resource-names.ts';
import { commonHttpOptions, policyClusterFields } from './policy-clusters.ts';
import { CORS_FILTER, FAULT_FILTER } from './policy-routes.ts';
import { ADS_CONFIG_SOURCE, DOWNSTREAM_TLS_TYPE, HCM_TYPE, ROUTER_FILTER, UPSTREAM_TLS_TYPE } from './xds-constants.ts';

const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const HTTP_OPTIONS_TYPE = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
const ORIGINAL_DST_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TLS_INSPECTOR_TYPE } };
const ORIGINAL_DST = { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': ORIGINAL_DST_TYPE } };

export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;
export const VIRTUAL_INBOUND_LISTENER = 'virtualInbound';
export const VIRTUAL_INBOUND_PORT = 15006;
/** Where connections to destinations the mesh does not know go (Istio's ALLOW_ANY). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
/** Where connections that must go nowhere go: a cluster with no endpoints. */
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
/** Where inbound connections to a port no service declares go: the pod itself, as addressed. */
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
/**
 * The source address of the sidecar's connections to its own application. Istio's iptables
 * rules (istio-init and the CNI plugin) let traffic from 127.0.0.6 reach the application
 * instead of capturing it again into 15006, which would loop.
 */
const INBOUND_UPSTREAM_BIND = { source_address: { address: '127.0.0.6', port_value: 0 } };
/** Istio's east-west gateway port for AUTO_PASSTHROUGH (mTLS routed by SNI, never terminated). */
export const EAST_WEST_GATEWAY_PORT = 15443;
/** The label (and value) by which a `router` proxy says it is an east-west gateway. */
export const EAST_WEST_GATEWAY_LABEL = { key: 'istio', value: 'eastwestgateway' } as const;

/**
 * Envoy spills a priority's traffic to the next one once its healthy share times this factor
 * (in percent) drops under 100. 140 is Envoy's default and what Istio's sidecars run with: a
 * locality keeps all its traffic until more than ~28% of it is gone, then sheds in proportion,
 * so its survivors are not overloaded while a region fails. A larger factor would mimic gRPC's
 * all-or-nothing failover (grpc-js-xds ignores the factor) at the price of piling a whole
 * locality's load on its last endpoint. Set explicitly so the behaviour is in the resource
 * (and in `/debug/config_dump`), not in a default that may change.
 */
export const OVERPROVISIONING_FACTOR = 140;

const CONNECT_TIMEOUT = { seconds: 10 };

/**
 * Passive health checking, so failover happens without an active checker: an endpoint that
 * fails 5 times in a row (5xx, or connect failures on TCP) is ejected. `max_ejection_percent`
 * 100: Envoy's default of 10% would keep a dead locality's endpoints in rotation and its
 * traffic would never move to the next priority.
 */
const OUTLIER_DETECTION = {
  consecutive_5xx: { value: 5 },
  interval: { seconds: 10 },
  base_ejection_time: { seconds: 30 },
  max_ejection_percent: { value: 100 },
};

/** A port whose clients speak TLS themselves (`tls` or `https`): the sidecar passes it through, routed by SNI. */
export function isTlsPort(port: Pick<ServicePort, 'name' | 'appProtocol'>): boolean {
  const declared = (port.appProtocol ?? port.name.split('-')[0] ?? '').toLowerCase();
  return declared === 'tls' || declared === 'https';
}

export const TrafficProtocol = {
  Http: 'http',
  Http2: 'http2',
  Tcp: 'tcp',
} as const;
export type TrafficProtocol = (typeof TrafficProtocol)[keyof typeof TrafficProtocol];

/**
 * What speaks on a port, from `appProtocol` or the name prefix (Istio's convention). Unknown
 * protocols are TCP: Meridian does no protocol sniffing, so an unnamed HTTP port is proxied
 * as bytes (it still works, just without L7 routing).
 */
export function trafficProtocol(port: Pick<ServicePort, 'name' | 'appProtocol'>): TrafficProtocol {
  const declared = (port.appProtocol ?? port.name.split('-')[0] ?? '').toLowerCase();
  switch (declared) {
    case 'grpc':
    case 'http2':
    case 'h2c':
    case 'kubernetes.io/h2c':
      return TrafficProtocol.Http2;
    case 'http':
    case 'grpc-web':
      return TrafficProtocol.Http;
    default:
      return TrafficProtocol.Tcp;
  }
}


function sds(name: string): object {
  return { name, sds_config: ADS_CONFIG_SOURCE };
}

/** The workload's own certificate and the roots, both by SDS over the ADS stream (Istio's names). */
function sdsTlsContext(validation: object): object {
  return { tls_certificate_sds_secret_configs: [sds(IDENTITY_CERTIFICATE_NAME)], ...validation };
}

function upstreamTlsSocket(sni: string, serverSans: readonly StringMatcher[], protocol: TrafficProtocol): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS_TYPE,
      // The SNI lets an east-west gateway route the still-encrypted connection.
      sni,
      common_tls_context: {
        ...sdsTlsContext({
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: serverSans.map((matcher) => ({ san_type: 'URI', matcher })),
            },
            validation_context_sds_secret_config: sds(ROOT_CERTIFICATE_NAME),
          },
        }),
        ...(protocol === TrafficProtocol.Http2 ? { alpn_protocols: ['h2'] } : {}),
      },
    },
  };
}

/**
 * Callers are authorized elsewhere (RBAC), not here: any peer with a certificate from the
 * mesh's roots is let in, as in Istio's PeerAuthentication STRICT.
 */
function downstreamTlsSocket(): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': DOWNSTREAM_TLS_TYPE,
      common_tls_context: sdsTlsContext({ validation_context_sds_secret_config: sds(ROOT_CERTIFICATE_NAME) }),
      require_client_certificate: { value: true },
    },
  };
}

function http2Options(protocol: TrafficProtocol, common?: Record<string, unknown>): object {
  if (protocol !== TrafficProtocol.Http2 && !common) return {};
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_OPTIONS_TYPE,
        ...(common ? { common_http_protocol_options: common } : {}),
        ...(protocol === TrafficProtocol.Http2 ? { explicit_http_config: { http2_protocol_options: {} } } : { explicit_http_config: { http_protocol_options: {} } }),
      },
    },
  };
}

export interface OutboundClusterOptions {
  readonly hostname: string;
  readonly port: ServicePort;
  /** A DestinationRule subset: its own cluster and assignment (`outbound|<port>|<subset>|<host>`). */
  readonly subset?: string;
  /** Set: mTLS (strict), accepting only servers with one of these URI SANs. */
  readonly serverSans?: readonly StringMatcher[] | undefined;
  /** The DestinationRule's settings for this subset and port. */
  readonly policy?: ClusterPolicy | undefined;
  /** Where its endpoints come from; EDS when absent. */
  readonly discovery?: ClusterDiscovery | undefined;
  /** The service's name and namespace, for the workload metrics' destination_service labels. */
  readonly service?: { readonly name: string; readonly namespace: string } | undefined;
}

/**
 * `outbound|<port>|<subset>|<host>`: EDS over ADS, locality-weighted, with outlier detection;
 * a DestinationRule's settings replace the defaults they name. Its TLS mode DISABLE turns
 * mesh mTLS off toward the destination (the server must then accept plaintext).
 */
export function buildSidecarOutboundCluster(options: OutboundClusterOptions): object {
  const { hostname, port, serverSans, policy } = options;
  const name = outboundClusterName(hostname, port.port, options.subset ?? '');
  const protocol = trafficProtocol(port);
  const tls = serverSans && policy?.tlsMode !== 'DISABLE';
  const discovery = options.discovery ?? { type: 'eds' };
  return {
    name,
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'ROUND_ROBIN',
    // Locality weights from EDS count within a priority, as they do for gRPC clients.
    ...(discovery.type === 'original-dst' ? {} : { common_lb_config: { locality_weighted_lb_config: {} }, outlier_detection: OUTLIER_DETECTION }),
    ...policyClusterFields(policy, ClientKind.Envoy),
    ...http2Options(protocol, commonHttpOptions(policy)),
    // The subset is in the SNI: an east-west gateway forwards to that subset's endpoints only.
    ...(tls ? { transport_socket: upstreamTlsSocket(sniName(hostname, port.port, options.subset ?? ''), serverSans, protocol) } : {}),
    ...discoveryFields(name, discovery),
    ...(options.service ? { metadata: serviceMetadata(hostname, options.service.name, options.service.namespace) } : {}),
  };
}

/** An east-west gateway's cluster for one service port (and subset), named by its SNI: the local endpoints, TLS left untouched. */
export function buildGatewayCluster(sni: string): object {
  return {
    name: sni,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: sni },
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'ROUND_ROBIN',
    outlier_detection: OUTLIER_DETECTION,
  };
}

/**
 * `inbound|<port>||`: the application in the same pod, at the address the caller dialled (the
 * pod IP, from the original destination), from 127.0.0.6 as Istio does since 1.10. Not
 * loopback: an application bound to the pod IP only must be reachable, and one bound to
 * localhost only must not be exposed to the mesh by its sidecar.
 */
export function buildInboundCluster(port: number, protocol: TrafficProtocol): object {
  return {
    name: inboundClusterName(port),
    type: 'ORIGINAL_DST',
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'CLUSTER_PROVIDED',
    upstream_bind_config: INBOUND_UPSTREAM_BIND,
    ...http2Options(protocol),
  };
}

/**
 * Inbound connections to ports no service declares (a metrics port scraped directly, a debug
 * port) reach the application at the address they were sent to, from 127.0.0.6.
 */
export function buildInboundPassthroughCluster(): object {
  return {
    name: INBOUND_PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'CLUSTER_PROVIDED',
    upstream_bind_config: INBOUND_UPSTREAM_BIND,
  };
}

/** Connections to destinations the mesh does not know go where they were headed. */
export function buildPassthroughCluster(): object {
  return {
    name: PASSTHROUGH_CLUSTER,
    type: 'ORIGINAL_DST',
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'CLUSTER_PROVIDED',
  };
}

/**
 * How Envoy weighs an assignment's priorities. `weighted_priority_health`: a gateway standing for several
 * remote endpoints is one host with their weight, so a priority's health is counted by
 * weight, else a gateway for ten endpoints would count as much as one endpoint.
 */
export const ENVOY_LOAD_ASSIGNMENT_POLICY: LoadAssignmentPolicy = {
  overprovisioningFactor: OVERPROVISIONING_FACTOR,
  weightedPriorityHealth: true,
};

function tcpProxy(statPrefix: string, cluster: string, accessLog: readonly object[] = []): object {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': TCP_PROXY_TYPE, stat_prefix: statPrefix, cluster, ...(accessLog.length ? { access_log: accessLog } : {}) },
  };
}

/** What a workload's Telemetry adds to its connection managers (and access logs to its TCP proxies). */
export interface Observability {
  /** The access loggers of an HTTP manager or a TCP proxy. */
  accessLogs(protocol: 'http' | 'tcp'): readonly object[];
  /** Istio's workload metrics (`workload-metrics.ts`); absent: none. */
  readonly metrics?: ChainMetrics;
}

/** What a sidecar's chains carry for its workload metrics. */
export interface ChainMetrics {
  /** The stats loggers of an HTTP manager or a TCP proxy. */
  loggers(protocol: 'http' | 'tcp'): readonly object[];
  /** The identity-exchange filters every HTTP manager runs first. */
  readonly exchange: readonly object[];
  /** What a server's plaintext chain runs instead, beside mTLS ones: the peer's headers removed, not believed. */
  readonly strip: readonly object[];
}

/** The access loggers of one HTTP manager or TCP proxy: the files Telemetry names, and the metrics. */
function chainLoggers(observed: Observability, protocol: 'http' | 'tcp'): object[] {
  return [...observed.accessLogs(protocol), ...(observed.metrics?.loggers(protocol) ?? [])];
}

const UNOBSERVED: Observability = { accessLogs: () => [] };

/** A TCP proxy splitting connections across clusters by weight (a VirtualService's `tcp` route). */
function weightedTcpProxy(statPrefix: string, routes: ReadonlyArray<{ readonly cluster: string; readonly weight: number }>, accessLog: readonly object[]): object {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: {
      '@type': TCP_PROXY_TYPE,
      stat_prefix: statPrefix,
      weighted_clusters: { clusters: routes.map((r) => ({ name: r.cluster, weight: r.weight })) },
      ...(accessLog.length ? { access_log: accessLog } : {}),
    },
  };
}

function httpConnectionManager(statPrefix: string, routes: object, filters: readonly object[] = [ROUTER_FILTER], observed: Observability = UNOBSERVED): object {
  const accessLog = chainLoggers(observed, 'http');
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM_TYPE,
      stat_prefix: statPrefix,
      codec_type: 'AUTO',
      ...routes,
      http_filters: [...(observed.metrics?.exchange ?? []), ...filters],
      ...(accessLog.length ? { access_log: accessLog } : {}),
    },
  };
}

/** 15001: every captured outbound connection lands here and is handed on by original destination. */
export function buildVirtualOutboundListener(registryOnly = false): object {
  return {
    name: VIRTUAL_OUTBOUND_LISTENER,
    address: { socket_address: { address: '0.0.0.0', port_value: VIRTUAL_OUTBOUND_PORT } },
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      // A connection whose original destination is 15001 itself (one passed through from
      // 15006, or dialled by the app) would be passed to 15001 again, forever.
      blackholeChain(VIRTUAL_OUTBOUND_LISTENER, VIRTUAL_OUTBOUND_PORT),
      // Reached only when no `0.0.0.0_<port>` listener takes the connection: a port no service
      // uses. REGISTRY_ONLY: such connections go nowhere.
      { name: `${VIRTUAL_OUTBOUND_LISTENER}-catchall-tcp`, filters: [registryOnly ? tcpProxy(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER) : tcpProxy(PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER)] },
    ],
  };
}

function blackholeChain(listener: string, port: number): object {
  return {
    name: `${listener}-blackhole`,
    filter_chain_match: { destination_port: { value: port } },
    filters: [tcpProxy(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
  };
}

/** Connections that must not be forwarded (loops through the sidecar's own ports) end here. */
export function buildBlackholeCluster(): object {
  return { name: BLACKHOLE_CLUSTER, type: 'STATIC', connect_timeout: CONNECT_TIMEOUT };
}

/** An address, or a CIDR block (a ServiceEntry's `addresses` may hold either), as a chain matches it. */
function prefixRange(vip: string): object {
  const [address = vip, length] = vip.split('/');
  return { address_prefix: address, prefix_len: { value: length !== undefined ? Number(length) : address.includes(':') ? 128 : 32 } };
}

/** A TCP service port on an outbound port listener: matched by the service's VIPs (or blocks). */
export interface TcpTarget {
  readonly hostname: string;
  readonly port: number;
  readonly vips: readonly string[];
  /** TLS the client starts itself, picked by the SNI it sends where the service has no VIP. */
  readonly serverNames?: readonly string[];
  /** A VirtualService's `tcp` route: the clusters and their weights; absent: the service's own cluster. */
  readonly routes?: ReadonlyArray<{ readonly cluster: string; readonly weight: number }>;
}

/**
 * `0.0.0.0_<port>`: bound to no socket (virtualOutbound hands connections to it). HTTP
 * services share one catch-all chain whose routes (`<port>`) pick by Host; TCP services have
 * nothing but the destination address to go by, so each gets a chain for its VIPs. Without
 * an HTTP service the catch-all passes unknown destinations through.
 */
export function buildOutboundPortListener(port: number, hasHttp: boolean, tcpTargets: readonly TcpTarget[], observed: Observability = UNOBSERVED, registryOnly = false): object {
  const accessLog = chainLoggers(observed, 'tcp');
  const name = outboundPortListenerName(port);
  const chains: object[] = tcpTargets.map((t) => ({
    name: outboundClusterName(t.hostname, t.port),
    filter_chain_match: t.vips.length ? { prefix_ranges: t.vips.map(prefixRange) } : { server_names: t.serverNames ?? [], transport_protocol: 'tls' },
    filters: [t.routes && t.routes.length > 1 ? weightedTcpProxy(outboundClusterName(t.hostname, t.port), t.routes, accessLog) : tcpProxy(outboundClusterName(t.hostname, t.port), t.routes?.[0]?.cluster ?? outboundClusterName(t.hostname, t.port), accessLog)],
  }));
  chains.push(
    hasHttp
      ? { name: `${name}-http`, filters: [httpConnectionManager(name, { rds: { route_config_name: String(port), config_source: ADS_CONFIG_SOURCE } }, [FAULT_FILTER, CORS_FILTER, ROUTER_FILTER], observed)] }
      : registryOnly
        ? { name: `${name}-blackhole`, filters: [tcpProxy(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER, accessLog)] }
        : { name: `${name}-passthrough`, filters: [tcpProxy(PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER, accessLog)] },
  );
  return {
    name,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    bind_to_port: { value: false },
    traffic_direction: 'OUTBOUND',
    ...(tcpTargets.some((t) => t.vips.length === 0) ? { listener_filters: [TLS_INSPECTOR] } : {}),
    filter_chains: chains,
  };
}

export interface HttpTarget {
  readonly hostname: string;
  /** Outside the mesh (a MESH_EXTERNAL ServiceEntry): requests carry no identity headers. */
  readonly external?: boolean;
  readonly port: number;
  readonly domains: readonly string[];
  /** The virtual host's routes (`policy-routes.ts`): the host's compiled rules, or its default route. */
  readonly routes: readonly object[];
}

/**
 * RDS `<port>`: a virtual host per HTTP service on that port, then `allow_any` for hosts the
 * mesh does not know. Route timeouts are off (`timeout` 0): Envoy's default 15 s would cut
 * every gRPC stream that outlives it.
 */
export function buildOutboundRouteConfiguration(port: number, targets: readonly HttpTarget[], registryOnly = false): object {
  return {
    name: String(port),
    virtual_hosts: [
      ...targets.map((t) => ({
        name: `${t.hostname}:${t.port}`,
        domains: t.domains,
        routes: t.routes,
        // Into the mesh: the service it was sent to, for the server's metrics; out of it, no identity at all.
        ...(t.external ? { typed_per_filter_config: NO_PEER_STAMP } : { request_headers_to_add: [peerServiceHeader(t.hostname)] }),
      })),
      registryOnly
        ? // Istio's answer for a host the mesh does not know under REGISTRY_ONLY.
          { name: 'block_all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 502 } }] }
        : { name: 'allow_any', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: {} } }], typed_per_filter_config: NO_PEER_STAMP },
    ],
    // Routes name clusters that CDS may deliver a moment later.
    validate_clusters: { value: false },
    // A route's header edits apply after its virtual host's: a route leaving the mesh removes
    // what the host of a mesh service adds (`policy-routes.ts`).
    most_specific_header_mutations_wins: true,
  };
}

/**
 * RDS `inbound|<port>||`: everything to the application's port, with the RBAC rules of the
 * workload's policies for the chain's RBAC filters (`perFilter`, see `rbac.ts`).
 */
export function buildInboundRouteConfiguration(port: number, perFilter: Readonly<Record<string, object>>): object {
  const cluster = inboundClusterName(port);
  return {
    name: cluster,
    virtual_hosts: [
      {
        name: cluster,
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, route: { cluster, timeout: {} } }],
        ...(Object.keys(perFilter).length ? { typed_per_filter_config: perFilter } : {}),
      },
    ],
  };
}

/**
 * The application learns who called it from `x-forwarded-client-cert` (the caller's SPIFFE ID
 * as `URI=`, ours as `By=`), as behind Istio's sidecars. Only behind mTLS: a plaintext caller's
 * header would be forwarded as if it were proven, so without TLS Envoy's default (sanitize) stays.
 */
const FORWARD_CLIENT_CERT = {
  forward_client_cert_details: 'APPEND_FORWARD',
  set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true },
};

/** A port the proxy's own workload serves. */
export interface InboundPort {
  /** The port the application listens on (the endpoint's, i.e. the service's targetPort). */
  readonly port: number;
  readonly protocol: TrafficProtocol;
  /** STRICT: only mTLS from the mesh's roots; PERMISSIVE: mTLS or plaintext; DISABLE: as it comes. */
  readonly mtls: PeerMtlsMode;
}

/**
 * The workload's RBAC (`rbac.ts`): the filters every HTTP chain runs (their rules come with
 * the inbound route configuration), and a TCP chain's filters, whose stats `statPrefix` names.
 */
export interface InboundAuthz {
  readonly http: readonly object[];
  tcp(statPrefix: string): object[];
}

const NO_AUTHZ: InboundAuthz = { http: [], tcp: () => [] };

/**
 * 15006: chains per workload port, chosen by original destination port and by what the
 * first bytes are (tls_inspector): a TLS chain under STRICT and PERMISSIVE, a plaintext one
 * under PERMISSIVE (`raw_buffer`) and DISABLE (anything), so under STRICT plaintext finds no
 * chain and is refused. Then one for every other port that passes the connection on to the
 * pod (Istio's inbound passthrough). Every chain runs the workload's RBAC filters first.
 */
export function buildVirtualInboundListener(ports: readonly InboundPort[], passthroughMode: PeerMtlsMode, authz: InboundAuthz = NO_AUTHZ, observed: Observability = UNOBSERVED): object {
  const accessLog = chainLoggers(observed, 'tcp');
  // 15006 is the sidecar's own (Istio reserves it too); its chain is the black hole below.
  const declared = ports.filter((p) => p.port !== VIRTUAL_INBOUND_PORT).flatMap((p) => {
    const cluster = inboundClusterName(p.port);
    const chain = (name: string, tls: boolean) => {
      const filters =
        p.protocol === TrafficProtocol.Tcp
          ? [...authz.tcp(name), tcpProxy(name, cluster, accessLog)]
          : [
              httpConnectionManager(
                name,
                { rds: { route_config_name: cluster, config_source: ADS_CONFIG_SOURCE }, ...(tls ? FORWARD_CLIENT_CERT : {}) },
                [...authz.http, ROUTER_FILTER],
                // A caller's identity headers are believed from a peer that proved its identity, or in a mesh without mTLS.
                tls || p.mtls === PeerMtlsMode.Disable || !observed.metrics ? observed : { ...observed, metrics: { ...observed.metrics, exchange: observed.metrics.strip } },
              ),
            ];
      return { name, filters, ...(tls ? { transport_socket: downstreamTlsSocket() } : {}) };
    };
    return inboundChains(p.mtls, cluster, { destination_port: { value: p.port } }, chain);
  });
  // Every other port: without this chain, iptables capture would reset connections to ports
  // no Service names (metrics scraped from the pod, debug ports) instead of passing them on.
  // It takes the workload's mode. Under strict mTLS it asks for a client certificate, which
  // sidecars do not present to destinations they know no service for, so in practice an
  // undeclared port is closed under strict mTLS, as in Istio.
  const passthrough = inboundChains(passthroughMode, INBOUND_PASSTHROUGH_CLUSTER, undefined, (name, tls) => ({
    name,
    filters: [...authz.tcp(name), tcpProxy(name, INBOUND_PASSTHROUGH_CLUSTER, accessLog)],
    ...(tls ? { transport_socket: downstreamTlsSocket() } : {}),
  }));
  return {
    name: VIRTUAL_INBOUND_LISTENER,
    address: { socket_address: { address: '0.0.0.0', port_value: VIRTUAL_INBOUND_PORT } },
    traffic_direction: 'INBOUND',
    listener_filters: [ORIGINAL_DST, TLS_INSPECTOR],
    // Passing a connection to 15006 itself through would bring it straight back here, forever.
    filter_chains: [...declared, blackholeChain(VIRTUAL_INBOUND_LISTENER, VIRTUAL_INBOUND_PORT), ...passthrough],
  };
}

/**
 * The chains one port gets under a mode: `name` for the mTLS one (or the only one), and
 * `<name>-plaintext` beside it under PERMISSIVE.
 */
function inboundChains(mode: PeerMtlsMode, name: string, match: object | undefined, chain: (name: string, tls: boolean) => object): object[] {
  const withMatch = (c: object, extra: object) => {
    const m = { ...match, ...extra };
    return Object.keys(m).length ? { ...c, filter_chain_match: m } : c;
  };
  switch (mode) {
    case PeerMtlsMode.Strict:
      return [withMatch(chain(name, true), { transport_protocol: 'tls' })];
    case PeerMtlsMode.Permissive:
      return [withMatch(chain(name, true), { transport_protocol: 'tls' }), withMatch(chain(`${name}-plaintext`, false), { transport_protocol: 'raw_buffer' })];
    default:
      return [withMatch(chain(name, false), {})];
  }
}

export const EAST_WEST_GATEWAY_LISTENER = `0.0.0.0_${EAST_WEST_GATEWAY_PORT}`;

/**
 * Istio's AUTO_PASSTHROUGH on 15443: a client sidecar on another network sends mTLS with SNI
 * `outbound_.<port>_.<subset>_.<host>` (its outbound cluster sets it) to this gateway; the
 * gateway reads the SNI with tls_inspector, never terminates TLS, and forwards the bytes to a
 * local endpoint of that service port (and subset), whose sidecar terminates the mTLS. The identity checked end
 * to end is the workload's, not the gateway's. Plaintext callers find no chain.
 */
export function buildGatewayListener(snis: readonly string[]): object {
  return {
    name: EAST_WEST_GATEWAY_LISTENER,
    address: { socket_address: { address: '0.0.0.0', port_value: EAST_WEST_GATEWAY_PORT } },
    traffic_direction: 'INBOUND',
    listener_filters: [TLS_INSPECTOR],
    filter_chains: snis.map((sni) => ({ name: sni, filter_chain_match: { server_names: [sni] }, filters: [tcpProxy(sni, sni)] })),
  };
}
