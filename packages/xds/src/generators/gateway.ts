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
    const targets = snapshot.gatewayTargets(proxy.cluster);
    if (targets.length === 0) return undefined; // a listener without a filter chain is rejected
    return cache.resource({ type: TypeUrl.Listener, name, view: `${proxy.type}|${proxy.cluster}` }, [{ on: 'any-service' }], () =>
      buildGatewayListener(targets),
    );
  };
  return {
    needsPush: envoyListenersNeedPush,
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
    return cache.resource({ type: TypeUrl.Cluster, name, view: proxy.type }, [{ on: 'service', hostname: sni.hostname }], () =>
      buildGatewayCluster(sni.hostname, sni.port),
    );
  };
  return {
    needsPush: envoyClustersNeedPush,
    generate(snapshot, proxy, names) {
      if (names) return buildEach(names, (name) => (parseOutboundClusterName(name) ? grpcCluster(cache, snapshot, proxy, name) : own(snapshot, proxy, name)));
      return buildEach(
        snapshot.gatewayTargets(proxy.cluster).map((t) => sniName(t.hostname, t.port)),
        (name) => own(snapshot, proxy, name),
      );
    },
  };
}
