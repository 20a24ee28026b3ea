/**
 * Access logs on sidecars (Telemetry `accessLogging`, config `telemetry.providers`): Envoy's
 * file access logger on every inbound and outbound HTTP connection manager and TCP proxy,
 * with Istio's default fields and the peer's identity. What the reporting proxy knows of
 * itself (its cluster and namespace) is written in as literals; the peer's principal comes
 * from its certificate. Upstream Envoy has no metadata exchange, so the peer's cluster and
 * workload are not known to the logging proxy (the peer's own log line has them).
 */
import type { AccessLogProvider, ProxyNode } from '@meridian/model';

const FILE_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

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

/** The fields about who called whom, from where the proxy stands. */
function peerFields(proxy: ProxyNode, direction: AccessLogDirection): Record<string, string> {
  return direction === 'client'
    ? { reporter: 'source', source_cluster: proxy.cluster, source_namespace: proxy.namespace, source_principal: '%UPSTREAM_LOCAL_URI_SAN%', destination_principal: '%UPSTREAM_PEER_URI_SAN%' }
    : { reporter: 'destination', destination_cluster: proxy.cluster, destination_namespace: proxy.namespace, destination_principal: '%DOWNSTREAM_LOCAL_URI_SAN%', source_principal: '%DOWNSTREAM_PEER_URI_SAN%' };
}

function textFormat(fields: Readonly<Record<string, string>>): string {
  const f = (k: string) => fields[k] ?? '-';
  return `[${f('start_time')}] "${f('method')} ${f('path')} ${f('protocol')}" ${f('response_code')} ${f('response_flags')} ${f('bytes_received')} ${f('bytes_sent')} ${f('duration')} "${f('authority')}" "${f('upstream_host')}" ${f('upstream_cluster')} reporter=${f('reporter')} source=${f('source_principal')} destination=${f('destination_principal')}\n`;
}

/** The `access_log` entries of one connection manager or TCP proxy. */
export function accessLogs(providers: readonly AccessLogProvider[], proxy: ProxyNode, direction: AccessLogDirection): object[] {
  return providers.map((p) => {
    const fields = { ...ISTIO_FIELDS, ...peerFields(proxy, direction) };
    return {
      name: 'envoy.access_loggers.file',
      typed_config: {
        '@type': FILE_ACCESS_LOG_TYPE,
        path: p.path,
        // json_format is a google.protobuf.Struct; protobufjs's built-in one names its fields in camelCase.
        log_format: p.format === 'json' ? { json_format: { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])) } } : { text_format_source: { inline_string: textFormat(fields) } },
      },
    };
  });
}

/** What the access-log entries depend on: proxies alike in it share the resources carrying them. */
export function accessLogKey(providers: readonly AccessLogProvider[], proxy: ProxyNode): string {
  return providers.length ? `${providers.map((p) => p.name).join(',')}@${proxy.cluster}/${proxy.namespace}` : '';
}
