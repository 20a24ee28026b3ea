/**
 * Where a cluster's endpoints come from. A Kubernetes service's, and a ServiceEntry's with
 * STATIC resolution, come over EDS; a DNS entry's endpoints are names the client resolves
 * itself (EDS carries addresses only); a NONE entry has none: a connection goes to the
 * address the application sent it to.
 */
import { EntryResolution, localityString, type Endpoint, type Service, type ServicePort } from '@meridian/model';
import { subsetEndpoints } from './policy-clusters.ts';
import { ADS_CONFIG_SOURCE } from './xds-constants.ts';

export type ClusterDiscovery =
  | { readonly type: 'eds' }
  /** `logical`: one name, one address per connection (DNS_ROUND_ROBIN, and what gRPC clients take). */
  | { readonly type: 'dns'; readonly logical: boolean; readonly endpoints: readonly Endpoint[] }
  | { readonly type: 'original-dst' };

const EDS: ClusterDiscovery = { type: 'eds' };

/** How a client finds the endpoints of one port (and subset) of a service. */
export function clusterDiscoveryOf(service: Service, port: ServicePort, endpoints: readonly Endpoint[], subsetLabels: Readonly<Record<string, string>> | undefined): ClusterDiscovery {
  switch (service.entry?.resolution) {
    case EntryResolution.None:
      return { type: 'original-dst' };
    case EntryResolution.Dns:
    case EntryResolution.DnsRoundRobin: {
      const ofPort = endpoints.filter((e) => e.portName === port.name);
      const chosen = subsetLabels ? subsetEndpoints(ofPort, subsetLabels) : ofPort;
      return { type: 'dns', logical: service.entry.resolution === EntryResolution.DnsRoundRobin, endpoints: chosen };
    }
    default:
      return EDS;
  }
}

/**
 * The cluster fields that say where endpoints come from, spread last over a cluster: an
 * original-destination cluster must pick its own host whatever load balancer a policy names.
 */
export function discoveryFields(clusterName: string, discovery: ClusterDiscovery): Record<string, unknown> {
  switch (discovery.type) {
    case 'eds':
      return { type: 'EDS', eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: clusterName } };
    case 'original-dst':
      return { type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' };
    case 'dns':
      return {
        type: discovery.logical ? 'LOGICAL_DNS' : 'STRICT_DNS',
        // A name with both kinds of address is reached over IPv4 when it can be, as most hosts can.
        dns_lookup_family: 'V4_PREFERRED',
        load_assignment: dnsAssignment(clusterName, discovery.logical ? discovery.endpoints.slice(0, 1) : discovery.endpoints),
      };
  }
}

/**
 * The names to resolve, grouped by locality, one priority: which of them is nearer to a
 * caller is not known before they resolve, and the assignment is shared by every caller.
 */
function dnsAssignment(clusterName: string, endpoints: readonly Endpoint[]): object {
  const byLocality = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    const key = localityString(e.locality);
    byLocality.set(key, [...(byLocality.get(key) ?? []), e]);
  }
  return {
    cluster_name: clusterName,
    endpoints: [...byLocality.values()].map((group) => ({
      locality: { region: group[0]?.locality.region ?? '', zone: group[0]?.locality.zone ?? '', sub_zone: group[0]?.locality.subzone ?? '' },
      lb_endpoints: group.map((e) => ({ endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } } })),
      load_balancing_weight: { value: 1 },
    })),
  };
}
