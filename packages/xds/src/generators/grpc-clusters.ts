import { anyDestinationChanged, destinationChanged, serviceChanged } from '../change-set.ts';
import { clusterDiscoveryOf, type ClusterDiscovery } from '../cluster-discovery.ts';
import { buildEdsCluster } from '../grpc-resources.ts';
import { clusterPolicyOf } from '../policy-clusters.ts';
import { serverSanMatchers, serviceIdentities, type StringMatcher } from '../mtls.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { outboundClusterName, parseOutboundClusterName } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, type Generator } from './generator.ts';
import type { Dependency, ResourceCache } from './resource-cache.ts';
import type { DestinationPolicy, ProxyNode, Service, ServicePort } from '@meridian/model';

/**
 * CDS for proxyless gRPC clients: one EDS cluster per service port and DestinationRule subset. With mTLS strict for a
 * service, its cluster carries the SPIFFE IDs of the service accounts behind it, which come
 * from endpoints: for such a service an endpoints change reaches CDS too. (Since versions
 * are content hashes, a cluster whose SANs did not change is not sent again.)
 */
export function grpcClusters(cache: ResourceCache): Generator {
  return {
    needsPush(changes, snapshot, _proxy, name) {
      if (changes.everything || changes.securityPolicy) return true;
      if (name === undefined) return changes.anyService || anyDestinationChanged(changes) || [...changes.endpoints].some((h) => snapshot.strict(h));
      const hostname = parseOutboundClusterName(name)?.hostname;
      return hostname !== undefined && (serviceChanged(changes, hostname) || destinationChanged(changes, hostname) || (changes.endpoints.has(hostname) && snapshot.strict(hostname)));
    },
    generate(snapshot, proxy, names) {
      return buildEach(names ?? outboundClusterNames(snapshot, proxy), (name) => grpcCluster(cache, snapshot, proxy, name));
    },
  };
}

/**
 * The proxyless cluster of an `outbound|<port>|<subset>|<host>` name; also what an Envoy
 * naming one gets. A subset exists while the DestinationRule the proxy sees defines it.
 */
export function grpcCluster(cache: ResourceCache, snapshot: PushSnapshot, proxy: ProxyNode, name: string): GeneratedResource | undefined {
  const found = outboundClusterOf(snapshot, proxy, name);
  if (!found) return undefined;
  const { service, port, subset, destination } = found;
  return cache.resource({ type: TypeUrl.Cluster, name, view: destinationView(destination) }, clusterDependencies(snapshot, service.hostname), () =>
    buildEdsCluster(service.hostname, port, serverSans(snapshot, service), subset, clusterPolicyOf(destination, subset, port.port), discoveryOf(snapshot, found)),
  );
}

/** Where a cluster's endpoints come from (EDS but for some ServiceEntries), its subset's only. */
export function discoveryOf(snapshot: PushSnapshot, cluster: { service: Service; port: ServicePort; subset: string; destination: DestinationPolicy | undefined }): ClusterDiscovery {
  const labels = cluster.subset === '' ? undefined : cluster.destination?.subsets.get(cluster.subset)?.labels;
  return clusterDiscoveryOf(cluster.service, cluster.port, snapshot.endpoints(cluster.service.hostname), labels);
}

/** A service port's cluster as a proxy sees it: the service, the port, and the DestinationRule in effect. */
export function outboundClusterOf(
  snapshot: PushSnapshot,
  proxy: ProxyNode,
  name: string,
): { service: Service; port: ServicePort; subset: string; destination: DestinationPolicy | undefined } | undefined {
  const parsed = parseOutboundClusterName(name);
  const service = parsed && snapshot.serviceFor(proxy, parsed.hostname);
  const port = parsed && service?.ports.find((p) => p.port === parsed.port);
  if (!parsed || !service || !port) return undefined;
  const destination = snapshot.policies?.traffic.destinationFor(service.hostname, { namespace: proxy.namespace });
  if (parsed.subset !== '' && !destination?.subsets.has(parsed.subset)) return undefined;
  return { service, port, subset: parsed.subset, destination };
}

/** Every service port's cluster and its subsets' (those the DestinationRule the proxy sees defines). */
export function outboundClusterNames(snapshot: PushSnapshot, proxy: ProxyNode): string[] {
  const traffic = snapshot.policies?.traffic;
  return snapshot.visibleServices(proxy).flatMap((s) => {
    const subsets = ['', ...(traffic?.destinationFor(s.hostname, { namespace: proxy.namespace })?.subsets.keys() ?? [])];
    return s.ports.flatMap((p) => subsets.map((subset) => outboundClusterName(s.hostname, p.port, subset)));
  });
}

/** Proxies that see the same DestinationRule for a host share its clusters. */
export function destinationView(destination: DestinationPolicy | undefined): string {
  return destination ? `${destination.source.namespace}/${destination.source.name}` : '';
}

/**
 * A cluster follows its service, its DestinationRule, the PeerAuthentication that says
 * whether to speak mTLS, and a strict one its endpoints' service accounts too.
 */
export function clusterDependencies(snapshot: PushSnapshot, hostname: string): Dependency[] {
  const own: Dependency[] = [{ on: 'service', hostname }, { on: 'destination', hostname }, { on: 'security-policy' }];
  return snapshot.strict(hostname) ? [...own, { on: 'endpoints', hostname }] : own;
}

/** The identities a client accepts from the service's servers; undefined when the service is not strict. */
export function serverSans(snapshot: PushSnapshot, service: Service): StringMatcher[] | undefined {
  const trustDomain = snapshot.mtls?.trustDomain;
  if (trustDomain === undefined || !snapshot.strict(service.hostname)) return undefined;
  return serverSanMatchers(trustDomain, serviceIdentities(trustDomain, service));
}
