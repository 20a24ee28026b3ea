/** Type URLs and filter configs that the gRPC and the Envoy resource builders both use. */
export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
/** Every resource a generated one refers to comes over the same ADS stream. */
export const ADS_CONFIG_SOURCE = { ads: {}, resource_api_version: 'V3' };
/** The last HTTP filter of every chain (gRPC requires it last too). */
export const ROUTER_FILTER = { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } };
