import type { ProxyNode } from '@meridian/model';
import { anyDestinationChanged, destinationChanged, endpointsChanged, type ChangeSet } from '../change-set.ts';
import {
  BLACKHOLE_CLUSTER,
  buildBlackholeCluster,
  buildInboundCluster,
  buildInboundPassthroughCluster,
  buildPassthroughCluster,
  buildSidecarOutboundCluster,
  INBOUND_PASSTHROUGH_CLUSTER,
  PASSTHROUGH_CLUSTER,
  TrafficProtocol,
} from '../envoy-resources.ts';
import { clusterPolicyOf } from '../policy-clusters.ts';
import { buildCollectorCluster, collectorClusterName, parseCollectorClusterName } from '../tracing.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { inboundClusterName, parseInboundClusterName, parseOutboundClusterName, parseSniName } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, encodeResource, type Generator } from './generator.ts';
import { clusterDependencies, destinationView, discoveryOf, grpcCluster, outboundClusterNames, outboundClusterOf, serverSans } from './grpc-clusters.ts';
import type { ProxyViews } from './proxy-view.ts';
import type { ResourceCache } from './resource-cache.ts';

/** Clusters every sidecar gets as they are, whatever the mesh holds (in CDS order). */
const FIXED_SIDECAR_CLUSTERS: ReadonlyMap<string, () => object> = new Map([
  [PASSTHROUGH_CLUSTER, buildPassthroughCluster],
  [INBOUND_PASSTHROUGH_CLUSTER, buildInboundPassthroughCluster],
  [BLACKHOLE_CLUSTER, buildBlackholeCluster],
]);

/**
 * CDS for Envoy sidecars: the fixed clusters, an outbound cluster per service port and
 * DestinationRule subset (SDS certificates when strict), and an inbound cluster per port of
 * the proxy's own workload (built per request, not cached). A named outbound cluster is a gRPC client's (Envoy takes
 * CDS by wildcard) and gets the proxyless cluster: no SDS, which grpc-js-xds cannot use.
 */
export function sidecarClusters(cache: ResourceCache, views: ProxyViews): Generator {
  const own = (snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined => {
    const fixed = FIXED_SIDECAR_CLUSTERS.get(name);
    if (fixed) return cache.resource({ type: TypeUrl.Cluster, name, view: proxy.type }, [], fixed);
    const collector = parseCollectorClusterName(name);
    if (collector !== undefined) {
      const provider = snapshot.tracingProviders.find((p) => p.name === collector);
      return provider && encodeResource(TypeUrl.Cluster, name, buildCollectorCluster(provider));
    }
    const inboundPort = parseInboundClusterName(name);
    if (inboundPort !== undefined) {
      const ownPort = views.inboundPorts(snapshot, proxy).find((p) => p.port === inboundPort);
      return encodeResource(TypeUrl.Cluster, name, buildInboundCluster(inboundPort, ownPort?.protocol ?? TrafficProtocol.Tcp));
    }
    const found = outboundClusterOf(snapshot, proxy, name);
    if (!found) return undefined;
    const { service, port, subset, destination } = found;
    const view = `${proxy.type}|${destinationView(destination)}`;
    return cache.resource({ type: TypeUrl.Cluster, name, view }, clusterDependencies(snapshot, service.hostname), () =>
      buildSidecarOutboundCluster({
        hostname: service.hostname,
        port,
        subset,
        serverSans: serverSans(snapshot, service),
        policy: clusterPolicyOf(destination, subset, port.port),
        discovery: discoveryOf(snapshot, found),
        service,
      }),
    );
  };
  return {
    needsPush: envoyClustersNeedPush,
    generate(snapshot, proxy, names) {
      if (names) return buildEach(names, (name) => (parseOutboundClusterName(name) ? grpcCluster(cache, snapshot, proxy, name) : own(snapshot, proxy, name)));
      const outbound = outboundClusterNames(snapshot, proxy);
      const inbound = views.inboundPorts(snapshot, proxy).map((p) => inboundClusterName(p.port));
      // Collectors outside the mesh: every sidecar may be told to report to one.
      const collectors = snapshot.tracingProviders.map((p) => collectorClusterName(p, snapshot)).filter((n) => parseCollectorClusterName(n) !== undefined);
      return buildEach([...FIXED_SIDECAR_CLUSTERS.keys(), ...collectors, ...outbound, ...inbound], (name) => own(snapshot, proxy, name));
    },
  };
}

/**
 * Envoy takes clusters by wildcard. A change of endpoints may move the proxy's own endpoints
 * (inbound clusters) and the SANs of a strict service's cluster; other clusters follow their
 * service. Gateways and kinds no cluster is built from touch none.
 */
export function envoyClustersNeedPush(changes: ChangeSet, snapshot: PushSnapshot, _proxy: ProxyNode, name: string | undefined): boolean {
  if (changes.everything || changes.securityPolicy) return true;
  const hostname = name === undefined ? undefined : (parseOutboundClusterName(name)?.hostname ?? parseSniName(name)?.hostname);
  // A DestinationRule change reaches its host's clusters (and the list: subsets come and go).
  if (name === undefined ? anyDestinationChanged(changes) : hostname !== undefined && destinationChanged(changes, hostname)) return true;
  if (changes.anyService) return name === undefined || hostname === undefined || endpointsChanged(changes, hostname);
  if (changes.endpoints.size === 0) return false;
  if (name === undefined || parseInboundClusterName(name) !== undefined) return true;
  return hostname !== undefined && snapshot.strict(hostname) && changes.endpoints.has(hostname);
}
