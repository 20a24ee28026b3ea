import path from 'node:path';
import { canonicalWorkloadName } from '@meridian/model';
import { CERTIFICATE_PROVIDER_INSTANCE, INBOUND_LISTENER_NAME_TEMPLATE } from '@meridian/xds';

/** gRPC xDS bootstrap for a proxyless client (grpc's xDS bootstrap format, v3). */
export interface GrpcBootstrapOptions {
  readonly nodeId: string;
  readonly server: string;
  readonly cluster?: string;
  readonly network?: string;
  readonly namespace?: string;
  /** `region/zone/subzone`; missing parts are empty. */
  readonly locality?: string;
  /**
   * A directory with Istio's workload certificate files (`cert-chain.pem`, `key.pem`,
   * `root-cert.pem`). Enables mTLS: the TLS contexts Meridian serves refer to this provider,
   * and an `XdsServer` finds its listener by the server listener name template.
   */
  readonly certDir?: string;
}

/** Istio's file names in a workload's certificate directory. */
const WorkloadCertFile = {
  CertChain: 'cert-chain.pem',
  Key: 'key.pem',
  Root: 'root-cert.pem',
} as const;

export function grpcBootstrap(options: GrpcBootstrapOptions): object {
  const [region = '', zone = '', subZone = ''] = (options.locality ?? '').split('/');
  const metadata: Record<string, string> = {};
  if (options.cluster) metadata['CLUSTER_ID'] = options.cluster;
  if (options.network) metadata['NETWORK'] = options.network;
  if (options.namespace) metadata['NAMESPACE'] = options.namespace;
  return {
    xds_servers: [
      {
        server_uri: options.server,
        channel_creds: [{ type: 'insecure' }],
        // Without this a gRPC client drops a listener or cluster that a response leaves out,
        // and some clients never pick it up again (DESIGN.md §7).
        server_features: ['xds_v3', 'ignore_resource_deletion'],
      },
    ],
    node: {
      id: options.nodeId,
      locality: { region, zone, sub_zone: subZone },
      metadata,
    },
    ...(options.certDir === undefined ? {} : certificateSection(options.certDir)),
  };
}

function certificateSection(dir: string): object {
  return {
    certificate_providers: {
      [CERTIFICATE_PROVIDER_INSTANCE]: {
        // The only plugin grpc-js-xds knows; it re-reads the files, so rotation needs no restart.
        plugin_name: 'file_watcher',
        config: {
          certificate_file: path.join(dir, WorkloadCertFile.CertChain),
          private_key_file: path.join(dir, WorkloadCertFile.Key),
          ca_certificate_file: path.join(dir, WorkloadCertFile.Root),
          refresh_interval: '60s',
        },
      },
    },
    server_listener_resource_name_template: INBOUND_LISTENER_NAME_TEMPLATE,
  };
}

/** Envoy bootstrap (envoy.config.bootstrap.v3.Bootstrap) for a sidecar served by Meridian. */
export interface EnvoyBootstrapOptions {
  /** Istio's form, `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`, tells Meridian it is a sidecar. */
  readonly nodeId: string;
  /** Meridian's xDS address, `host:port` (15010 plaintext, 15012 with `tls`). */
  readonly server: string;
  readonly cluster?: string;
  readonly network?: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** `region/zone/subzone`; missing parts are empty. */
  readonly locality?: string;
  /**
   * TLS to Meridian's 15012 with the workload's SVID as client certificate, read from Istio's
   * file names in `certDir` (what `meridian certificate --out DIR` writes). Over 15012 the
   * certificate's SPIFFE ID, not the metadata, decides the proxy's identity.
   */
  readonly tls?: { readonly certDir: string; readonly serverName: string };
}

const ADMIN_PORT = 15000;
/** Istio's port for a sidecar's Prometheus stats: `/stats/prometheus`, and nothing else of the admin API. */
export const STATS_PORT = 15090;
const XDS_CLUSTER = 'xds-grpc';
const ADMIN_CLUSTER = 'prometheus_stats';
/**
 * Envoy's reconnect backoff to Meridian. Its default (0.5 s doubling to 30 s, full jitter)
 * leaves a sidecar up to 30 s on stale config after Meridian was away for a few seconds (a
 * restart, a rollout): measured here, 5.5–9 s after a 17 s outage. Capped at 5 s, a sidecar is
 * back within 5 s of Meridian's return, and the jitter still spreads a fleet's reconnects
 * over that window (Meridian's own drain spreads them over 5 s too).
 */
const XDS_RETRY_BACK_OFF = { base_interval: '0.5s', max_interval: '5s' };
/**
 * HTTP/2 pings on the xDS connection: a Meridian whose host vanished sends no reset, and
 * without pings the sidecar would wait on a dead connection for TCP's own timeouts (minutes).
 */
const XDS_KEEPALIVE = { interval: '30s', timeout: '10s' };

/** The workload's canonical name, from its labels or the pod's name in the node id. */
function workloadName(labels: Readonly<Record<string, string>>, nodeId: string): string {
  return canonicalWorkloadName(labels, nodeId.split('~')[2]?.split('.')[0]);
}

export function envoyBootstrap(options: EnvoyBootstrapOptions): object {
  const [region = '', zone = '', subZone = ''] = (options.locality ?? '').split('/');
  const colon = options.server.lastIndexOf(':');
  const host = colon > 0 ? options.server.slice(0, colon).replace(/^\[(.*)\]$/, '$1') : options.server;
  const port = colon > 0 ? Number(options.server.slice(colon + 1)) : options.tls ? 15012 : 15010;
  const metadata: Record<string, unknown> = {};
  if (options.cluster) metadata['CLUSTER_ID'] = options.cluster;
  if (options.network) metadata['NETWORK'] = options.network;
  if (options.namespace) metadata['NAMESPACE'] = options.namespace;
  if (options.serviceAccount) metadata['SERVICE_ACCOUNT'] = options.serviceAccount;
  if (options.labels && Object.keys(options.labels).length > 0) metadata['LABELS'] = options.labels;
  // What the workload metrics name it (Istio's agent sets the same key from the Deployment).
  metadata['WORKLOAD_NAME'] = workloadName(options.labels ?? {}, options.nodeId);
  const ads = { ads: {}, resource_api_version: 'V3' };
  return {
    node: {
      id: options.nodeId,
      // Envoy's service cluster, for stats and tracing only; Meridian reads CLUSTER_ID.
      cluster: options.namespace ?? 'default',
      locality: { region, zone, sub_zone: subZone },
      metadata,
    },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        // Meridian reads the node from a stream's first request only, as from gRPC clients.
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: { retry_back_off: XDS_RETRY_BACK_OFF } } }],
      },
      lds_config: ads,
      cds_config: ads,
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER,
          // The address is usually a Service name (meridian.<ns>.svc), resolved by DNS.
          type: 'STRICT_DNS',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
          },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: { connection_keepalive: XDS_KEEPALIVE } },
            },
          },
          ...(options.tls ? { transport_socket: xdsTlsSocket(options.tls.certDir, options.tls.serverName) } : {}),
        },
        {
          name: ADMIN_CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: ADMIN_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: ADMIN_PORT } } } }] }] },
        },
      ],
      listeners: [statsListener()],
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: ADMIN_PORT } } },
  };
}

/**
 * 0.0.0.0:15090, as in Istio: Prometheus (and Meridian, for dry-run counts) read the sidecar's
 * stats at `/stats/prometheus` from outside the pod, while the admin API stays on loopback.
 * Any other path is a 404. The capture leaves this port alone.
 */
function statsListener(): object {
  return {
    name: 'stats-prometheus',
    address: { socket_address: { address: '0.0.0.0', port_value: STATS_PORT } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'stats',
              route_config: { virtual_hosts: [{ name: 'stats', domains: ['*'], routes: [{ match: { path: '/stats/prometheus' }, route: { cluster: ADMIN_CLUSTER } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          },
        ],
      },
    ],
  };
}

/**
 * Files rather than SDS for the xDS connection itself: SDS would come over the connection
 * being set up. `watched_directory` makes Envoy reload them when the directory's files are
 * swapped (as a mounted Secret is), so rotation needs no restart.
 */
function xdsTlsSocket(certDir: string, serverName: string): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: serverName,
      common_tls_context: {
        tls_certificates: [
          {
            certificate_chain: { filename: path.join(certDir, WorkloadCertFile.CertChain) },
            private_key: { filename: path.join(certDir, WorkloadCertFile.Key) },
            watched_directory: { path: certDir },
          },
        ],
        validation_context: {
          trusted_ca: { filename: path.join(certDir, WorkloadCertFile.Root) },
          watched_directory: { path: certDir },
          // Meridian's serving certificate names its Service (meridian.<ns>.svc).
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: serverName } }],
        },
      },
    },
  };
}
