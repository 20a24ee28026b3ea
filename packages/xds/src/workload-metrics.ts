/**
 * Istio's standard workload metrics from upstream Envoy, which has no `istio.stats` filter:
 * Envoy's stats access logger counts each request (or connection) once it ends, under
 * Istio's metric and label names with the prefix `istio` (Prometheus sees
 * `envoy_istio_requests_total`; one relabelling rule gives Istio's own names, docs/telemetry.md).
 *
 * Labels come from what each side knows. The reporting sidecar's own workload, namespace and
 * cluster are read by Envoy from its node metadata (CEL on `xds.node`), so every sidecar gets
 * the same listeners and a push builds them once, not once per workload; principals come from
 * the certificates; the destination service from the outbound cluster's metadata. What only
 * the other side knows (its workload, namespace, cluster) crosses in `x-meridian-peer-*`
 * headers, as Istio's HTTP metadata exchange does: each sidecar stamps its own identity on
 * what it sends (over any the application set) and takes the peer's off what it receives,
 * into dynamic metadata, before the application sees it. TCP has no headers: a client names
 * the server's workload from the endpoint it connected to (EDS carries each TCP endpoint's
 * workload); a server's peer workload labels stay empty.
 */
import { WorkloadMetric, type DirectionMetrics, type TagEdits } from '@meridian/model';
import { preEncodedAny, SharedConfigs } from './encoded-any.ts';

const STATS_LOGGER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stats.v3.Config';
const STATS_SCOPE = { prefix: 'istio', sharing_name: 'meridian.workload_metrics' };
const HEADER_MUTATION_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation';
const HEADER_TO_METADATA_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.header_to_metadata.v3.Config';

/** Where the cluster metadata and the peer's exchanged identity live. */
export const METRICS_METADATA_NAMESPACE = 'meridian';
const PEER_HEADERS = { cluster: 'x-meridian-peer-cluster', namespace: 'x-meridian-peer-namespace', workload: 'x-meridian-peer-workload' } as const;
/**
 * The service a request was sent to, which the server's side cannot tell (its chain serves
 * whatever service the port belongs to): the client's route adds it, as a header of its own.
 */
export const PEER_SERVICE_HEADER = 'x-meridian-peer-service';

export type MetricsDirection = 'client' | 'server';

/** The filter that stamps a sidecar's identity on what it sends (turned off for hosts outside the mesh). */
export const PEER_STAMP_FILTER = 'meridian.peer_exchange.stamp';
/** The filter that takes the peer's identity off what it receives. */
const PEER_TAKE_FILTER = 'meridian.peer_exchange.take';

const OFF = { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true };
/**
 * A virtual host's per-filter config for hosts outside the mesh (hosts the mesh does not know,
 * MESH_EXTERNAL entries): no identity headers on the way out — what a workload is called and
 * where it runs is nobody else's business — and none believed on the way back.
 */
export const NO_PEER_STAMP = { [PEER_STAMP_FILTER]: OFF, [PEER_TAKE_FILTER]: OFF };

/**
 * The reporting workload, as Envoy reads it from its own node metadata: `WORKLOAD_NAME`
 * (Meridian's bootstrap sets it from the workload's labels, Istio's agent from its
 * Deployment), `NAMESPACE` and `CLUSTER_ID`; `unknown` for what the bootstrap does not say.
 */
const SELF = { workload: nodeField('WORKLOAD_NAME'), namespace: nodeField('NAMESPACE'), cluster: nodeField('CLUSTER_ID') } as const;

function nodeField(field: string): string {
  return `%CEL(has(xds.node.metadata.${field}) ? xds.node.metadata.${field} : 'unknown')%`;
}

const peer = (key: string) => `%DYNAMIC_METADATA(${METRICS_METADATA_NAMESPACE}:peer_${key})%`;
const clusterMeta = (key: string) => `%CLUSTER_METADATA(${METRICS_METADATA_NAMESPACE}:${key})%`;
/** The endpoint's workload, as EDS gives it for TCP ports (`load-assignment.ts`). */
const endpointMeta = (key: string) => `%UPSTREAM_METADATA(${METRICS_METADATA_NAMESPACE}:${key})%`;

/**
 * Who called whom, as one side sees it: the reporting workload from its node metadata, the
 * peer's from the exchange and the certificates. The metrics' labels, and the access logs'
 * peer fields.
 */
export function peerLabels(direction: MetricsDirection, protocol: 'http' | 'tcp'): Record<string, string> {
  const self = SELF;
  if (direction === 'client') {
    // TCP has no headers: the server's workload is the one its endpoint says it is.
    const server = protocol === 'http' ? peer : endpointMeta;
    return {
      reporter: 'source',
      source_workload: self.workload,
      source_workload_namespace: self.namespace,
      source_principal: '%UPSTREAM_LOCAL_URI_SAN%',
      source_cluster: self.cluster,
      destination_service: clusterMeta('service'),
      destination_service_name: clusterMeta('service_name'),
      destination_service_namespace: clusterMeta('service_namespace'),
      destination_workload: server('workload'),
      destination_workload_namespace: server('namespace'),
      destination_principal: '%UPSTREAM_PEER_URI_SAN%',
      destination_cluster: server('cluster'),
      connection_security_policy: 'unknown',
    };
  }
  return {
    reporter: 'destination',
    source_workload: peer('workload'),
    source_workload_namespace: peer('namespace'),
    source_principal: '%DOWNSTREAM_PEER_URI_SAN%',
    source_cluster: peer('cluster'),
    destination_service: peer('service'),
    destination_workload: self.workload,
    destination_workload_namespace: self.namespace,
    destination_principal: '%DOWNSTREAM_LOCAL_URI_SAN%',
    destination_cluster: self.cluster,
    connection_security_policy: "%CEL(connection.mtls ? 'mutual_tls' : 'none')%",
  };
}

const HTTP_LABELS = {
  request_protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  grpc_response_status: '%GRPC_STATUS_NUMBER%',
  response_flags: '%RESPONSE_FLAGS%',
};

/** What a direction's metrics settings make of its loggers: proxies alike in it share them. */
export function metricsKey(metrics: DirectionMetrics): string {
  return `${metrics.disabled.join(',')}${metrics.tags ? `|${JSON.stringify(metrics.tags)}` : ''}`;
}

/**
 * The stats access logger of one connection manager (`http`) or TCP proxy (`tcp`), emitting
 * every metric not disabled, with its label edits; none when all are disabled.
 */
export function metricsLogger(direction: MetricsDirection, protocol: 'http' | 'tcp', metrics: DirectionMetrics): object[] {
  return LOGGERS.get(`${direction}|${protocol}|${metricsKey(metrics)}`, () => buildMetricsLogger(direction, protocol, metrics));
}

const LOGGERS = new SharedConfigs<object[]>();

/** Istio's labels edited by a Telemetry's `tagOverrides`: an added or changed label is Envoy's CEL over the same attributes. */
function editedTags(labels: Readonly<Record<string, string>>, edits: TagEdits | undefined): Array<{ name: string; value_format: string }> {
  const tags = new Map(Object.entries(labels));
  for (const [tag, expression] of Object.entries(edits ?? {})) {
    if (expression === null) tags.delete(tag);
    else tags.set(tag, `%CEL(${expression})%`);
  }
  return [...tags].map(([name, value_format]) => ({ name, value_format }));
}

function buildMetricsLogger(direction: MetricsDirection, protocol: 'http' | 'tcp', metrics: DirectionMetrics): object[] {
  const base = peerLabels(direction, protocol);
  const labels = protocol === 'http' ? { ...base, ...HTTP_LABELS } : base;
  const stat = (name: string, metric: WorkloadMetric) => ({ name, tags: editedTags(labels, metrics.tags?.[metric]) });
  const counters: object[] = [];
  const histograms: object[] = [];
  const on = (m: WorkloadMetric) => !metrics.disabled.includes(m);
  if (protocol === 'http') {
    if (on(WorkloadMetric.RequestCount)) counters.push({ stat: stat('requests_total', WorkloadMetric.RequestCount), value_fixed: { value: 1 } });
    if (on(WorkloadMetric.RequestDuration)) histograms.push({ stat: stat('request_duration_milliseconds', WorkloadMetric.RequestDuration), unit: 'Milliseconds', value_format: '%DURATION%' });
    if (on(WorkloadMetric.RequestSize)) histograms.push({ stat: stat('request_bytes', WorkloadMetric.RequestSize), unit: 'Bytes', value_format: '%BYTES_RECEIVED%' });
    if (on(WorkloadMetric.ResponseSize)) histograms.push({ stat: stat('response_bytes', WorkloadMetric.ResponseSize), unit: 'Bytes', value_format: '%BYTES_SENT%' });
  } else {
    if (on(WorkloadMetric.TcpSent)) counters.push({ stat: stat('tcp_sent_bytes_total', WorkloadMetric.TcpSent), value_format: '%BYTES_SENT%' });
    if (on(WorkloadMetric.TcpReceived)) counters.push({ stat: stat('tcp_received_bytes_total', WorkloadMetric.TcpReceived), value_format: '%BYTES_RECEIVED%' });
    // Both counted when the connection's log is written, at its end: an open connection is not counted yet.
    if (on(WorkloadMetric.TcpOpened)) counters.push({ stat: stat('tcp_connections_opened_total', WorkloadMetric.TcpOpened), value_fixed: { value: 1 } });
    if (on(WorkloadMetric.TcpClosed)) counters.push({ stat: stat('tcp_connections_closed_total', WorkloadMetric.TcpClosed), value_fixed: { value: 1 } });
  }
  if (counters.length === 0 && histograms.length === 0) return [];
  // One scope shared by every logger: a listener replaced (any service, policy or Telemetry
  // change may replace one) keeps counting into the same series instead of restarting them.
  return [{ name: 'envoy.access_loggers.stats', typed_config: preEncodedAny({ '@type': STATS_LOGGER_TYPE, stats_scope: STATS_SCOPE, counters, histograms }) }];
}

/**
 * The HTTP filters of the identity exchange, for one side: stamp our identity on what we
 * send (requests as a client, responses as a server), take the peer's off what we receive.
 */
export function peerExchangeFilters(direction: MetricsDirection): object[] {
  // The same for every sidecar (each reads its own identity from its node metadata): built once, not per proxy and push.
  return EXCHANGE.get(direction, () => buildPeerExchangeFilters(direction));
}

const EXCHANGE = new SharedConfigs<object[]>();

function buildPeerExchangeFilters(direction: MetricsDirection): object[] {
  const stamp = Object.entries(PEER_HEADERS).map(([key, header]) => ({
    append: { header: { key: header, value: SELF[key as keyof typeof SELF] }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  }));
  const taken = direction === 'client' ? PEER_HEADERS : { ...PEER_HEADERS, service: PEER_SERVICE_HEADER };
  const take = Object.entries(taken).map(([key, header]) => ({
    header,
    on_header_present: { metadata_namespace: METRICS_METADATA_NAMESPACE, key: `peer_${key}`, type: 'STRING' },
    remove: true,
  }));
  return [
    { name: PEER_STAMP_FILTER, typed_config: preEncodedAny({ '@type': HEADER_MUTATION_TYPE, mutations: direction === 'client' ? { request_mutations: stamp } : { response_mutations: stamp } }) },
    { name: PEER_TAKE_FILTER, typed_config: preEncodedAny({ '@type': HEADER_TO_METADATA_TYPE, ...(direction === 'client' ? { response_rules: take } : { request_rules: take }) }) },
  ];
}

/**
 * Where the peer is not to be believed (a plaintext caller beside mTLS ones) or nothing is
 * recorded (a workload emitting no metric): its identity headers are only removed, so they
 * never reach the application.
 */
export function peerStripFilters(direction: MetricsDirection): object[] {
  return STRIP.get(direction, () => buildPeerStripFilters(direction));
}

const STRIP = new SharedConfigs<object[]>();

function buildPeerStripFilters(direction: MetricsDirection): object[] {
  const headers = direction === 'client' ? Object.values(PEER_HEADERS) : [...Object.values(PEER_HEADERS), PEER_SERVICE_HEADER];
  const remove = headers.map((h) => ({ remove: h }));
  return [{ name: PEER_TAKE_FILTER, typed_config: preEncodedAny({ '@type': HEADER_MUTATION_TYPE, mutations: direction === 'client' ? { response_mutations: remove } : { request_mutations: remove } }) }];
}

/** What a route to a mesh service adds to its requests: the service, for the server side's destination_service. */
export function peerServiceHeader(hostname: string): object {
  return { header: { key: PEER_SERVICE_HEADER, value: hostname }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/** Cluster metadata an outbound cluster carries for the metrics' destination_service labels. */
export function serviceMetadata(hostname: string, name: string, namespace: string): object {
  // A google.protobuf.Struct: protobufjs's own definition names its fields in camelCase.
  const value = (v: string) => ({ stringValue: v });
  return { filter_metadata: { [METRICS_METADATA_NAMESPACE]: { fields: { service: value(hostname), service_name: value(name), service_namespace: value(namespace) } } } };
}
