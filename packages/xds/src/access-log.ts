/**
 * Access logs on sidecars (Telemetry `accessLogging`, config `telemetry.providers`): Envoy's
 * file access logger, or its OpenTelemetry one (OTLP/gRPC logs to a collector), on every
 * inbound and outbound HTTP connection manager and TCP proxy,
 * with Istio's default fields and who called whom under the workload metrics' label names
 * (`workload-metrics.ts`): the logging side from its node metadata, the peer's workload,
 * namespace and cluster from the identity exchange (HTTP only), both principals from the
 * certificates.
 */
import type { AccessLogSink, TracingProvider } from '@meridian/model';
import { preEncodedAny, SharedConfigs } from './encoded-any.ts';
import { peerLabels } from './workload-metrics.ts';

const FILE_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const CEL_FILTER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter';
const OTEL_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig';

/** Where an OpenTelemetry collector is reached from a sidecar: its cluster, and the authority a gRPC server accepts. */
export type CollectorRoute = (collector: TracingProvider) => { readonly cluster: string; readonly authority: string };

export type AccessLogDirection = 'client' | 'server';

/** Istio's default JSON access-log fields, in its names. */
const ISTIO_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  route_name: '%ROUTE_NAME%',
};

function textFormat(fields: Readonly<Record<string, string>>): string {
  const f = (k: string) => fields[k] ?? '-';
  return `[${f('start_time')}] "${f('method')} ${f('path')} ${f('protocol')}" ${f('response_code')} ${f('response_flags')} ${f('bytes_received')} ${f('bytes_sent')} ${f('duration')} "${f('authority')}" "${f('upstream_host')}" ${f('upstream_cluster')} reporter=${f('reporter')} source=${f('source_workload')}.${f('source_workload_namespace')}@${f('source_cluster')} ${f('source_principal')} destination=${f('destination_workload')}.${f('destination_workload_namespace')}@${f('destination_cluster')} ${f('destination_principal')}\n`;
}

/** The `access_log` entries of one connection manager or TCP proxy. */
export function accessLogs(providers: readonly AccessLogSink[], direction: AccessLogDirection, protocol: 'http' | 'tcp', collectorRoute: CollectorRoute): object[] {
  if (providers.length === 0) return [];
  const routes = providers.map((p) => ('collector' in p ? collectorRoute(p.collector) : undefined));
  return LOGGERS.get(JSON.stringify([providers, direction, protocol, routes]), () => buildAccessLogs(providers, direction, protocol, collectorRoute));
}

const LOGGERS = new SharedConfigs<object[]>();

function buildAccessLogs(providers: readonly AccessLogSink[], direction: AccessLogDirection, protocol: 'http' | 'tcp', collectorRoute: CollectorRoute): object[] {
  return providers.map((p) => {
    const fields = { ...ISTIO_FIELDS, ...peerLabels(direction, protocol) };
    // Telemetry's filter: Envoy's CEL filter reads the same attributes Istio's does.
    const filter = p.filter ? { filter: { extension_filter: { name: 'envoy.access_loggers.extension_filters.cel', typed_config: { '@type': CEL_FILTER_TYPE, expression: p.filter } } } } : {};
    if ('collector' in p) {
      const route = collectorRoute(p.collector);
      return {
        name: 'envoy.access_loggers.open_telemetry',
        ...filter,
        typed_config: preEncodedAny({
          '@type': OTEL_ACCESS_LOG_TYPE,
          common_config: { log_name: 'meridian', grpc_service: { envoy_grpc: { cluster_name: route.cluster, authority: route.authority } }, transport_api_version: 'V3' },
          // The text line as the body; every field, the peer ones included, as an attribute.
          body: { string_value: textFormat(fields).trimEnd() },
          attributes: { values: Object.entries(fields).map(([key, value]) => ({ key, value: { string_value: value } })) },
        }),
      };
    }
    return {
      name: 'envoy.access_loggers.file',
      ...filter,
      typed_config: preEncodedAny({
        '@type': FILE_ACCESS_LOG_TYPE,
        path: p.path,
        // json_format is a google.protobuf.Struct; protobufjs's built-in one names its fields in camelCase.
        log_format: p.format === 'json' ? { json_format: { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])) } } : { text_format_source: { inline_string: textFormat(fields) } },
      }),
    };
  });
}

/** What the access-log entries depend on: proxies alike in it share the resources carrying them. */
export function accessLogKey(providers: readonly AccessLogSink[]): string {
  return providers.map((p) => (p.filter ? `${p.name}[${p.filter}]` : p.name)).join(',');
}
