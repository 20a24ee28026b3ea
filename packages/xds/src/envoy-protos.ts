import { envoyProtoRoot } from './protos.ts';

/**
 * The protos a sidecar's resources need beyond the proxyless set that `protos.ts` loads:
 * network filters, listener filters, upstream protocol options, the admin dump and the
 * bootstrap. They go into the same root, so `Any` fields of any resource encode and decode
 * from `{ '@type': ... }` objects. Loaded on first use: a proxyless-only control plane never
 * pays for them.
 */
const SIDECAR_PROTO_FILES = [
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/stats_access_log.proto',
  'envoy/extensions/access_loggers/filters/cel/v3/cel.proto',
  'envoy/extensions/access_loggers/open_telemetry/v3/logs_service.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/filters/http/header_to_metadata/v3/header_to_metadata.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
];

let loaded = false;

export function loadSidecarProtos(): void {
  if (loaded) return;
  const root = envoyProtoRoot();
  // The root's resolvePath (set by protos.ts) finds these in the same include dirs.
  root.loadSync(SIDECAR_PROTO_FILES, { keepCase: true });
  root.resolveAll();
  loaded = true;
}
