import { EMPTY_LOCALITY, localityString, type LocalityLbRule, type ProxyNode, type ServicePort } from '@meridian/model';
import { anyDestinationChanged, destinationChanged, endpointsChanged, type ChangeSet } from '../change-set.ts';
import { selectPortEndpoints, type EndpointSelection } from '../endpoint-selection.ts';
import { ENVOY_LOAD_ASSIGNMENT_POLICY, trafficProtocol, TrafficProtocol } from '../envoy-resources.ts';
import { encodeLoadAssignment, type LoadAssignmentPolicy } from '../load-assignment.ts';
import { clusterPolicyOf, subsetEndpoints } from '../policy-clusters.ts';
import type { PushSnapshot } from '../push-snapshot.ts';
import { outboundClusterName, parseOutboundClusterName, parseSniName } from '../resource-names.ts';
import type { GeneratedResource } from '../resource-source.ts';
import { TypeUrl } from '../type-url.ts';
import { buildEach, encodeResource, type Generator } from './generator.ts';
import { gatewaySubsetLabels } from './gateway.ts';
import { destinationView } from './grpc-clusters.ts';
import type { Dependency, ResourceCache } from './resource-cache.ts';

/**
 * EDS. An assignment depends on its service's endpoints and on every network's gateways
 * (a remote endpoint is reached through its network's gateway), so either change drops it.
 * Nothing is wildcard: a proxy names the assignments its clusters refer to, and every name
 * asked for is answered, empty if need be.
 */

/** What the EDS generator of proxyless gRPC clients serves: `outbound|<port>||<host>` assignments. */
export function grpcEndpoints(cache: ResourceCache): Generator {
  return {
    needsPush: (changes, snapshot, proxy, name) => endpointsNeedPush(changes, snapshot, proxy, name),
    generate(snapshot, proxy, names) {
      return buildEach(names ?? [], (name) => loadAssignment(cache, snapshot, proxy, name, undefined));
    },
  };
}

/**
 * What the EDS generator of Envoy proxies (sidecars and gateways) serves: outbound
 * assignments with Envoy's policy, and the SNI-named ones an east-west gateway forwards to.
 */
export function envoyEndpoints(cache: ResourceCache): Generator {
  return {
    needsPush: endpointsNeedPush,
    generate(snapshot, proxy, names) {
      return buildEach(names ?? [], (name) => {
        const sni = parseSniName(name);
        if (sni) return gatewayLoadAssignment(cache, snapshot, proxy, name, sni);
        return loadAssignment(cache, snapshot, proxy, name, ENVOY_LOAD_ASSIGNMENT_POLICY);
      });
    },
  };
}

/**
 * An outbound assignment also follows traffic policy: a DestinationRule says which endpoints
 * a subset holds, and its localityLbSetting orders any assignment's priorities. (Unchanged
 * assignments are rebuilt from the cache and not sent again.)
 */
function endpointsNeedPush(changes: ChangeSet, _snapshot: PushSnapshot, _proxy: ProxyNode, name: string | undefined): boolean {
  if (changes.everything) return true;
  if (name === undefined) return changes.anyService || changes.endpoints.size > 0 || changes.gateways || anyDestinationChanged(changes);
  const outbound = parseOutboundClusterName(name);
  const sni = parseSniName(name);
  const hostname = outbound?.hostname ?? sni?.hostname;
  if (hostname === undefined) return false;
  // A DestinationRule says which endpoints a subset holds and how localities are ordered.
  if ((outbound || sni?.subset) && destinationChanged(changes, hostname)) return true;
  return endpointsChanged(changes, hostname) || changes.gateways;
}

/**
 * Why a proxy gets what it gets for each port of a service (`/debug/endpointz`): the same
 * selection the EDS generators serve, uncached, from the snapshot.
 */
export function explainEndpoints(
  snapshot: PushSnapshot,
  proxy: ProxyNode,
  hostname: string,
): Array<{ clusterName: string; port: ServicePort; selection: EndpointSelection }> {
  const service = snapshot.serviceFor(proxy, hostname);
  if (!service) return [];
  const destination = snapshot.policies?.traffic.destinationFor(hostname, { namespace: proxy.namespace });
  return service.ports.map((port) => ({
    clusterName: outboundClusterName(hostname, port.port),
    port,
    selection: select(snapshot, proxy, hostname, port, undefined, clusterPolicyOf(destination, '', port.port)?.locality),
  }));
}

/** `subsetLabels`: only the endpoints of a DestinationRule subset, chosen before priorities are. */
function select(
  snapshot: PushSnapshot,
  proxy: ProxyNode,
  hostname: string,
  port: ServicePort,
  subsetLabels?: Readonly<Record<string, string>>,
  locality?: LocalityLbRule,
): EndpointSelection {
  const endpoints = subsetLabels ? subsetEndpoints(snapshot.endpoints(hostname), subsetLabels) : snapshot.endpoints(hostname);
  return selectPortEndpoints(proxy, port, endpoints, (n) => snapshot.gateways(n), {
    clusterLocal: snapshot.clusterLocal(hostname),
    ...(locality ? { locality } : {}),
  });
}

function emptyAssignment(name: string): GeneratedResource {
  return encodeResource(TypeUrl.Endpoint, name, { cluster_name: name, endpoints: [] });
}

function loadAssignment(
  cache: ResourceCache,
  snapshot: PushSnapshot,
  proxy: ProxyNode,
  name: string,
  policy: LoadAssignmentPolicy | undefined,
): GeneratedResource {
  const parsed = parseOutboundClusterName(name);
  if (!parsed) return emptyAssignment(name);
  const { hostname, subset } = parsed;
  // A ServiceEntry not exported to the proxy's namespace has no endpoints for it.
  const service = snapshot.serviceFor(proxy, hostname);
  const port = service?.ports.find((p) => p.port === parsed.port);
  if (!service || !port) return emptyAssignment(name);
  // A sidecar's TCP metrics name the destination workload from its endpoint (no headers to exchange it in).
  const workloads = policy && trafficProtocol(port) === TrafficProtocol.Tcp ? { serviceNamespace: service.namespace } : undefined;
  const destination = snapshot.policies?.traffic.destinationFor(hostname, { namespace: proxy.namespace });
  const labels = subset === '' ? undefined : destination?.subsets.get(subset)?.labels;
  if (subset !== '' && !labels) return emptyAssignment(name);
  const locality = clusterPolicyOf(destination, subset, port.port)?.locality;
  const clusterLocal = snapshot.clusterLocal(hostname);
  // Everything the selection reads from the proxy is in the view, and the proxy type:
  // Envoy's assignment carries a policy gRPC's does not. A subset's endpoints and the
  // locality ordering come from the DestinationRule the proxy sees; a failoverPriority on
  // workload labels reads the proxy's.
  const byLabels = locality?.failoverPriority.some((l) => !l.startsWith('topology.')) ? `|${JSON.stringify(Object.entries(proxy.labels).sort())}` : '';
  const view = `${proxy.type}|${clusterLocal ? proxy.cluster : '*'}|${proxy.network}|${localityString(proxy.locality)}|${destinationView(destination)}${locality ? `|${proxy.cluster}${byLabels}` : ''}`;
  // The DestinationRule dependency even without one: a rule added later reorders the priorities.
  const deps: Dependency[] = [{ on: 'endpoints', hostname }, { on: 'gateways' }, { on: 'destination', hostname }];
  return cache.resource({ type: TypeUrl.Endpoint, name, view }, deps, () =>
    encodeLoadAssignment(name, select(snapshot, proxy, hostname, port, labels, locality), policy, workloads),
  );
}

/** A gateway forwards to its own cluster's endpoints only (a subset's only): the caller crossed networks already. */
function gatewayLoadAssignment(
  cache: ResourceCache,
  snapshot: PushSnapshot,
  proxy: ProxyNode,
  name: string,
  sni: { hostname: string; port: number; subset: string },
): GeneratedResource {
  const { hostname, subset } = sni;
  const port = snapshot.service(hostname)?.ports.find((p) => p.port === sni.port);
  const labels = subset === '' ? undefined : gatewaySubsetLabels(snapshot, proxy, hostname, subset);
  if (!port || (subset !== '' && !labels)) return emptyAssignment(name);
  const view = `${proxy.type}|${proxy.cluster}|${proxy.network}${labels ? `|${proxy.namespace}` : ''}`;
  const deps: Dependency[] = [{ on: 'endpoints', hostname }, { on: 'gateways' }, ...(labels ? [{ on: 'destination', hostname } as const] : [])];
  return cache.resource({ type: TypeUrl.Endpoint, name, view }, deps, () => {
    const local = { cluster: proxy.cluster, network: proxy.network, locality: EMPTY_LOCALITY };
    const endpoints = labels ? subsetEndpoints(snapshot.endpoints(hostname), labels) : snapshot.endpoints(hostname);
    const selection = selectPortEndpoints(local, port, endpoints, () => [], { clusterLocal: true });
    return encodeLoadAssignment(name, selection);
  });
}
