import { serviceChanged } from '../change-set.ts';
import { buildEdsCluster } from '../grpc-resources.ts';
import { serverSanMatchers, serviceIdentities, type StringMatcher } from '../mtls.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { outboundClusterName, parseOutboundClusterName } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, type Generator } from './generator.ts';
import type { Dependency, ResourceCache } from './resource-cache.ts';
import type { Service } from '@meridian/model';

/**
 * CDS for proxyless gRPC clients: one EDS cluster per service port. With mTLS strict for a
 * service, its cluster carries the SPIFFE IDs of the service accounts behind it, which come
 * from endpoints: for such a service an endpoints change reaches CDS too. (Since versions
 * are content hashes, a cluster whose SANs did not change is not sent again.)
 */
export function grpcClusters(cache: ResourceCache): Generator {
  return {
    needsPush(changes, snapshot, _proxy, name) {
      if (changes.everything) return true;
      if (name === undefined) return changes.anyService || [...changes.endpoints].some((h) => snapshot.strict(h));
      const hostname = parseOutboundClusterName(name)?.hostname;
      return hostname !== undefined && (serviceChanged(changes, hostname) || (changes.endpoints.has(hostname) && snapshot.strict(hostname)));
    },
    generate(snapshot, _proxy, names) {
      const wanted = names ?? snapshot.services.flatMap((s) => s.ports.map((p) => outboundClusterName(s.hostname, p.port)));
      return buildEach(wanted, (name) => grpcCluster(cache, snapshot, name));
    },
  };
}

/** The proxyless cluster of an `outbound|<port>||<host>` name; also what an Envoy naming one gets. */
export function grpcCluster(cache: ResourceCache, snapshot: PushSnapshot, name: string): GeneratedResource | undefined {
  const parsed = parseOutboundClusterName(name);
  const service = parsed && snapshot.service(parsed.hostname);
  const port = parsed && service?.ports.find((p) => p.port === parsed.port);
  if (!parsed || !service || !port) return undefined;
  return cache.resource({ type: TypeUrl.Cluster, name, view: '' }, clusterDependencies(snapshot, parsed.hostname), () =>
    buildEdsCluster(parsed.hostname, port, serverSans(snapshot, service)),
  );
}

/** A cluster follows its service, and a strict one its endpoints' service accounts too. */
export function clusterDependencies(snapshot: PushSnapshot, hostname: string): Dependency[] {
  return snapshot.strict(hostname) ? [{ on: 'service', hostname }, { on: 'endpoints', hostname }] : [{ on: 'service', hostname }];
}

/** The identities a client accepts from the service's servers; undefined when the service is not strict. */
export function serverSans(snapshot: PushSnapshot, service: Service): StringMatcher[] | undefined {
  const trustDomain = snapshot.mtls?.trustDomain;
  if (trustDomain === undefined || !snapshot.strict(service.hostname)) return undefined;
  return serverSanMatchers(trustDomain, serviceIdentities(trustDomain, service));
}
