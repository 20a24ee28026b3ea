import type { ProxyNode } from '@meridian/model';
import { buildGatewayCluster, buildGatewayListener, EAST_WEST_GATEWAY_LISTENER } from '../envoy-resources.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { parseOutboundClusterName, parseSniName, sniName } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, type Generator } from './generator.ts';
import { grpcCluster } from './grpc-clusters.ts';
import { grpcListener } from './grpc-listeners.ts';
import type { ResourceCache } from './resource-cache.ts';
import { envoyClustersNeedPush } from './sidecar-clusters.ts';
import { envoyListenersNeedPush } from './sidecar-listeners.ts';

/**
 * An east-west gateway (a `router` labelled `istio: eastwestgateway`): one TLS-passthrough
 * listener on 15443 routing by SNI to a cluster per service port with an endpoint in the
 * gateway's own cluster. Its EDS (SNI-named assignments) is the Envoy EDS generator's and
 * its RDS the sidecar one's; a named listener or cluster that is not its own is looked up
 * as a proxyless one, as for sidecars.
 */
export function gatewayListeners(cache: ResourceCache): Generator {
  const own = (snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined => {
    if (name !== EAST_WEST_GATEWAY_LISTENER) return undefined;
    const snis = gatewaySnis(snapshot, proxy);
    if (snis.length === 0) return undefined; // a listener without a filter chain is rejected
    return cache.resource({ type: TypeUrl.Listener, name, view: `${proxy.type}|${proxy.cluster}|${proxy.namespace}` }, [{ on: 'any-service' }, { on: 'traffic-policy' }], () =>
      buildGatewayListener(snis),
    );
  };
  return {
    // Its chains follow DestinationRule subsets too.
    needsPush: (changes, snapshot, proxy, name) => changes.trafficPolicy || envoyListenersNeedPush(changes, snapshot, proxy, name),
    generate(snapshot, proxy, names) {
      if (names) return buildEach(names, (name) => own(snapshot, proxy, name) ?? grpcListener(cache, snapshot, proxy, name));
      return buildEach([EAST_WEST_GATEWAY_LISTENER], (name) => own(snapshot, proxy, name));
    },
  };
}

export function gatewayClusters(cache: ResourceCache): Generator {
  const own = (snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined => {
    const sni = parseSniName(name);
    const service = sni && snapshot.service(sni.hostname);
    if (!sni || !service?.ports.some((p) => p.port === sni.port)) return undefined;
    if (sni.subset !== '' && !gatewaySubsetLabels(snapshot, proxy, sni.hostname, sni.subset)) return undefined;
    return cache.resource({ type: TypeUrl.Cluster, name, view: proxy.type }, [{ on: 'service', hostname: sni.hostname }, { on: 'destination', hostname: sni.hostname }], () => buildGatewayCluster(name));
  };
  return {
    needsPush: envoyClustersNeedPush,
    generate(snapshot, proxy, names) {
      if (names) return buildEach(names, (name) => (parseOutboundClusterName(name) ? grpcCluster(cache, snapshot, proxy, name) : own(snapshot, proxy, name)));
      return buildEach(gatewaySnis(snapshot, proxy), (name) => own(snapshot, proxy, name));
    },
  };
}

/**
 * What a gateway forwards: each service port with an endpoint in its cluster, and each subset
 * of it that a DestinationRule the gateway sees defines (a caller on another network names the
 * subset in its SNI).
 */
function gatewaySnis(snapshot: PushSnapshot, proxy: ProxyNode): string[] {
  const traffic = snapshot.policies?.traffic;
  return snapshot.gatewayTargets(proxy.cluster).flatMap((t) => {
    const subsets = traffic?.destinationFor(t.hostname, { namespace: proxy.namespace })?.subsets.keys() ?? [];
    return [sniName(t.hostname, t.port), ...[...subsets].map((subset) => sniName(t.hostname, t.port, subset))];
  });
}

/** The labels of a subset as the gateway sees the host's DestinationRule; undefined: no such subset. */
export function gatewaySubsetLabels(snapshot: PushSnapshot, proxy: ProxyNode, hostname: string, subset: string): Readonly<Record<string, string>> | undefined {
  return snapshot.policies?.traffic.destinationFor(hostname, { namespace: proxy.namespace })?.subsets.get(subset)?.labels;
}
