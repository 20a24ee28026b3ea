/**
 * Tracing on sidecars (Telemetry `tracing`, config `telemetry.providers`): Envoy's
 * OpenTelemetry tracer on every HTTP connection manager, exporting OTLP over gRPC to the
 * provider's collector, with W3C trace context (`traceparent`) propagated to the next hop, so
 * a request crossing clusters is one trace. Spans carry the reporting side's cluster
 * (`source_cluster` on the client span, `destination_cluster` on the server span) and
 * namespace as attributes, besides the Telemetry's custom tags.
 */
import { isIP } from 'node:net';
import type { ProxyNode, TracingProvider, TracingSettings } from '@meridian/model';
import { SharedConfigs } from './encoded-any.ts';
import { HTTP_OPTIONS_TYPE } from './envoy-resources.ts';
import { encodeMessage } from './protos.ts';
import type { PushSnapshot } from './push-snapshot.ts';
import { outboundClusterName } from './resource-names.ts';
import { anyTypeUrl, joinPieces, mapLengthDelimited } from './wire.ts';
import { HCM_TYPE } from './xds-constants.ts';

const OTEL_TRACER_TYPE = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const COLLECTOR_CLUSTER_PREFIX = 'telemetry|';

/** A collector outside the mesh gets a cluster of its own; one in the mesh is reached through its service's. */
export function collectorClusterName(provider: TracingProvider, snapshot: Pick<PushSnapshot, 'service'>): string {
  return snapshot.service(provider.service) ? outboundClusterName(provider.service, provider.port) : `${COLLECTOR_CLUSTER_PREFIX}${provider.name}`;
}

/** Whether a cluster name is a collector's own (`telemetry|<provider>`). */
export function parseCollectorClusterName(name: string): string | undefined {
  return name.startsWith(COLLECTOR_CLUSTER_PREFIX) ? name.slice(COLLECTOR_CLUSTER_PREFIX.length) : undefined;
}

/** `telemetry|<provider>`: the collector by address (an IP) or by DNS name, over HTTP/2 (OTLP/gRPC). */
export function buildCollectorCluster(provider: TracingProvider): object {
  const name = `${COLLECTOR_CLUSTER_PREFIX}${provider.name}`;
  return {
    name,
    type: isIP(provider.service) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: { seconds: 5 },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: provider.service, port_value: provider.port } } } }] }] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTIONS_TYPE, explicit_http_config: { http2_protocol_options: {} } },
    },
  };
}

/** The HTTP connection manager's `tracing` for one direction of a proxy's traffic. */
export function hcmTracing(settings: TracingSettings, collector: { readonly cluster: string; readonly provider: TracingProvider }, proxy: ProxyNode, direction: 'client' | 'server'): object {
  const own = direction === 'client' ? 'source' : 'destination';
  const tags = [
    { tag: `${own}_cluster`, literal: { value: proxy.cluster } },
    { tag: `${own}_namespace`, literal: { value: proxy.namespace } },
    ...settings.customTags.map((t) =>
      t.literal !== undefined
        ? { tag: t.tag, literal: { value: t.literal } }
        : t.header
          ? { tag: t.tag, request_header: { name: t.header.name, ...(t.header.defaultValue ? { default_value: t.header.defaultValue } : {}) } }
          : { tag: t.tag, environment: { name: t.environment?.name ?? '', ...(t.environment?.defaultValue ? { default_value: t.environment.defaultValue } : {}) } },
    ),
  ];
  return {
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: { '@type': OTEL_TRACER_TYPE, grpc_service: { envoy_grpc: { cluster_name: collector.cluster, authority: `${collector.provider.service}:${collector.provider.port}` }, timeout: { seconds: 2 } }, service_name: tracerServiceName(proxy) },
    },
    random_sampling: { value: settings.samplingPercent },
    custom_tags: tags,
  };
}

/** Field numbers: Listener.filter_chains, Listener.default_filter_chain, FilterChain.filters, Filter.typed_config, Any.value. */
const LISTENER_CHAINS = new Set([3, 25]);
const CHAIN_FILTERS = new Set([3]);
const FILTER_TYPED_CONFIG = new Set([4]);
const ANY_VALUE = new Set([2]);

/**
 * A listener (encoded) with `tracing` given to each of its connection managers. The tracer
 * names the workload, so traced listeners are one per workload; this keeps building them
 * cheap: the listener is built and encoded once for every workload alike but for tracing,
 * and each workload's copy only appends its `tracing` field to the connection managers'
 * bytes, copying the rest as it is. Protobuf parses a field appended to a message's bytes
 * as one written among them, so this is the connection manager with `tracing` set.
 */
export function withTracing(listener: Uint8Array, field: Uint8Array): Uint8Array {
  const traced = (any: Uint8Array) => (anyTypeUrl(any) === HCM_TYPE ? mapLengthDelimited(any, ANY_VALUE, (value) => ({ parts: [value, field], length: value.length + field.length })) : any);
  return joinPieces(mapLengthDelimited(listener, LISTENER_CHAINS, (chain) => mapLengthDelimited(chain, CHAIN_FILTERS, (filter) => mapLengthDelimited(filter, FILTER_TYPED_CONFIG, traced))));
}

/** One direction's tracing, encoded as the connection-manager field `withTracing` appends, and what it depends on. */
export interface EncodedTracing {
  readonly field: Uint8Array;
  /** Proxies alike in it share the listeners carrying it. */
  readonly key: string;
}

export function encodedTracing(settings: TracingSettings, collector: { readonly cluster: string; readonly provider: TracingProvider }, proxy: ProxyNode, direction: 'client' | 'server'): EncodedTracing {
  // Everything hcmTracing reads of the proxy: its cluster, namespace and service name.
  const key = `${JSON.stringify([settings, collector])}@${direction}/${proxy.cluster}/${proxy.namespace}/${tracerServiceName(proxy)}`;
  return { key, field: FIELDS.get(key, () => encodeMessage(HCM_TYPE, { tracing: hcmTracing(settings, collector, proxy, direction) })) };
}

/** The workload as its spans name it: `<app>.<namespace>`, as Istio does. */
function tracerServiceName(proxy: ProxyNode): string {
  return `${proxy.labels['app'] ?? 'unknown'}.${proxy.namespace}`;
}

/** One entry per traced workload and direction: room for a large mesh's, each a few hundred bytes. */
const FIELDS = new SharedConfigs<Uint8Array>(50_000);
