import { isIP } from 'node:net';
import {
  Health,
  localityString,
  type Endpoint,
  type Locality,
  type LocalityLbRule,
  type NetworkGateway,
  type NetworkId,
  type ProxyNode,
  type ServicePort,
} from '@meridian/model';
import { distributeGroups, distributionFor, localityRuleLevels } from './locality-rule.ts';
import { describeLocalityMatch, groupItems, PriorityTier, type DuplicateItem, type LocalityGroup } from './priority.ts';

/**
 * Which endpoints a proxy gets for one service port, where, and why. This is the one
 * computation behind both EDS (`selectPortEndpoints` → `encodeLoadAssignment`) and `/debug/endpointz`, so the two
 * cannot disagree.
 */

export type GatewaysOf = (network: NetworkId) => readonly NetworkGateway[];

/** What of the proxy the selection depends on; all of it is in the EDS cache view key. */
export type SelectionProxy = Pick<ProxyNode, 'cluster' | 'network' | 'locality'> & { readonly labels?: Readonly<Record<string, string>> };

/** One lb_endpoint of the assignment: a registry endpoint, or a gateway standing for several. */
export interface LbEndpointChoice {
  readonly kind: 'endpoint' | 'gateway';
  readonly address: string;
  readonly port: number;
  readonly network: NetworkId;
  readonly locality: Locality;
  /** Gateways are always healthy: only healthy endpoints stand behind them. */
  readonly health: Health;
  readonly stale: boolean;
  readonly weight: number;
  /** The endpoint itself, or the healthy endpoints reached through the gateway. */
  readonly behind: readonly Endpoint[];
  readonly gateway?: NetworkGateway;
}

/** One line of `/debug/endpointz`: a registry endpoint, or a gateway put in for some. */
export interface EndpointRow {
  readonly kind: 'endpoint' | 'gateway';
  /** The endpoint's cluster; for a gateway, the clusters of the endpoints behind it. */
  readonly cluster: string;
  readonly address: string;
  readonly port: number;
  readonly network: NetworkId;
  readonly locality: Locality;
  readonly health: Health;
  readonly stale: boolean;
  /** Whether this address is an lb_endpoint of the assignment. */
  readonly sent: boolean;
  /** The priority it is reached at (through its gateway, if any); undefined when unreachable. */
  readonly priority: number | undefined;
  /** Its lb_endpoint weight; 0 when it has no lb_endpoint of its own. */
  readonly weight: number;
  readonly reason: string;
}

export interface EndpointSelection {
  /** The assignment's localities, in priority order; the ClusterLoadAssignment is built from these alone. */
  readonly localities: readonly LocalityGroup<LbEndpointChoice>[];
  readonly rows: readonly EndpointRow[];
  /** Whether gateway substitution applied (see `isMultiNetwork`). */
  readonly multiNetwork: boolean;
}

export interface SelectOptions {
  /** A cluster-local host: only endpoints of the proxy's own cluster count. */
  readonly clusterLocal?: boolean;
  /** The DestinationRule's localityLbSetting: its priority levels instead of the default. */
  readonly locality?: LocalityLbRule | undefined;
}

/**
 * Two networks reach each other directly when they are the same, or when either is unnamed
 * (an endpoint or proxy that states no network is reachable from everywhere, as in Istio).
 */
export function sameNetwork(a: NetworkId, b: NetworkId): boolean {
  return a === b || a === '' || b === '';
}

/**
 * Gateway substitution applies only when some network involved has a gateway. A mesh that
 * declares no gateway at all is taken as flat, every endpoint reachable directly: Istio's
 * default (multi-network is off until gateways exist), and what a single-network mesh whose
 * clusters merely carry different network names needs. The port offers no list of every
 * network, so "involved" means the proxy's network and those of this service's endpoints.
 */
export function isMultiNetwork(proxyNetwork: NetworkId, endpoints: readonly Endpoint[], gatewaysOf: GatewaysOf): boolean {
  const asked = new Set<NetworkId>(['']);
  const hasGateway = (network: NetworkId): boolean => {
    if (asked.has(network)) return false;
    asked.add(network);
    return gatewaysOf(network).length > 0;
  };
  return hasGateway(proxyNetwork) || endpoints.some((e) => hasGateway(e.network));
}

/**
 * The gateways through which a network is reached: deduplicated by address and port (config
 * and a labelled Service may name the same one), IP addresses only, since gRPC NACKs a whole
 * assignment over one non-IP address and Envoy's EDS does not resolve names either.
 */
export function usableGateways(gateways: readonly NetworkGateway[]): { usable: NetworkGateway[]; skipped: NetworkGateway[] } {
  const usable: NetworkGateway[] = [];
  const skipped: NetworkGateway[] = [];
  const seen = new Set<string>();
  for (const g of gateways) {
    if (isIP(g.address) === 0) {
      skipped.push(g);
      continue;
    }
    const key = hostPort(g.address, g.port);
    if (seen.has(key)) continue;
    seen.add(key);
    usable.push(g);
  }
  return { usable, skipped };
}

interface Excluded {
  readonly endpoint: Endpoint;
  readonly reason: string;
}

/**
 * The endpoints of one service port for a proxy: registry order in, assignment out.
 * Same-network endpoints are placed as they are. A healthy endpoint on another network is
 * counted behind each of that network's gateways, per locality and freshness; the gateway
 * weights are split so that a network with g gateways weighs what its endpoints weigh, not g
 * times as much (every weight in the assignment is scaled by the least common multiple of the
 * gateway counts so the split stays whole). Unhealthy remote endpoints and networks without a
 * usable gateway contribute nothing.
 */
export function selectEndpoints(
  proxy: SelectionProxy,
  endpoints: readonly Endpoint[],
  gatewaysOf: GatewaysOf,
  options: SelectOptions = {},
): EndpointSelection {
  const excluded: Excluded[] = [];
  // Copies are made only when something is filtered out: the common single-network,
  // not-cluster-local case places the registry's endpoints as they are.
  let eligible = endpoints;
  if (options.clusterLocal) {
    const own: Endpoint[] = [];
    for (const ep of endpoints) {
      if (ep.cluster === proxy.cluster) own.push(ep);
      else excluded.push({ endpoint: ep, reason: `cluster-local service: cluster ${ep.cluster} is not the proxy's (${proxy.cluster})` });
    }
    eligible = own;
  }

  const multiNetwork = isMultiNetwork(proxy.network, eligible, gatewaysOf);
  let direct = eligible;
  const remote = new Map<NetworkId, Endpoint[]>();
  if (multiNetwork) {
    const sameNetworkEndpoints: Endpoint[] = [];
    for (const ep of eligible) {
      if (sameNetwork(proxy.network, ep.network)) {
        sameNetworkEndpoints.push(ep);
      } else if (ep.health !== Health.Healthy) {
        excluded.push({ endpoint: ep, reason: `other network ${ep.network}, ${ep.health}: not counted behind its gateway` });
      } else {
        const list = remote.get(ep.network);
        if (list) list.push(ep);
        else remote.set(ep.network, [ep]);
      }
    }
    direct = sameNetworkEndpoints;
  }

  const gatewaysByNetwork = new Map<NetworkId, NetworkGateway[]>();
  for (const [network, eps] of remote) {
    const { usable, skipped } = usableGateways(gatewaysOf(network));
    if (usable.length > 0) {
      gatewaysByNetwork.set(network, usable);
      continue;
    }
    const why = skipped.length
      ? `its gateway ${skipped.map((g) => hostPort(g.address, g.port)).join(', ')} is not an IP address`
      : 'it has no gateway';
    for (const ep of eps) excluded.push({ endpoint: ep, reason: `other network ${network}, not sent: ${why}` });
  }

  const scale = lcm([...gatewaysByNetwork.values()].map((g) => g.length));
  const items: LbEndpointChoice[] = direct.map((ep) => ({
    kind: 'endpoint',
    address: ep.address,
    port: ep.port,
    network: ep.network,
    locality: ep.locality,
    health: ep.health,
    stale: ep.stale === true,
    weight: scale,
    behind: [ep],
  }));
  items.push(...gatewayItems(remote, gatewaysByNetwork, scale));

  const levels = localityRuleLevels(options.locality, proxy);
  const grouped = groupItems(proxy.locality, items, {
    ...(levels ? { matchLevel: levels } : {}),
    addressOf: (i) => `${i.address} ${i.port}`,
    merge: (kept, dup) =>
      kept.kind === 'gateway' && dup.kind === 'gateway'
        ? { ...kept, weight: kept.weight + dup.weight, behind: [...kept.behind, ...dup.behind] }
        : undefined,
  });
  const { duplicates } = grouped;
  let groups = grouped.groups;
  const distribution = distributionFor(options.locality, proxy);
  if (distribution) {
    const distributed = distributeGroups(groups, distribution);
    groups = distributed.groups;
    for (const g of distributed.dropped) {
      for (const item of g.endpoints) for (const endpoint of item.behind) excluded.push({ endpoint, reason: `no share in the DestinationRule's distribute for ${localityString(proxy.locality)}` });
    }
  }
  return new Selection(proxy, groups, duplicates, excluded, multiNetwork, levels !== undefined || distribution !== undefined);
}

/** Rows are only for /debug/endpointz: computed on first read, so building EDS never pays for them. */
class Selection implements EndpointSelection {
  readonly localities: readonly LocalityGroup<LbEndpointChoice>[];
  readonly multiNetwork: boolean;
  private readonly proxy: SelectionProxy;
  private readonly duplicates: readonly DuplicateItem<LbEndpointChoice>[];
  private readonly excluded: readonly Excluded[];
  private readonly byRule: boolean;
  private explained: EndpointRow[] | undefined;

  constructor(
    proxy: SelectionProxy,
    localities: readonly LocalityGroup<LbEndpointChoice>[],
    duplicates: readonly DuplicateItem<LbEndpointChoice>[],
    excluded: readonly Excluded[],
    multiNetwork: boolean,
    byRule: boolean,
  ) {
    this.proxy = proxy;
    this.localities = localities;
    this.duplicates = duplicates;
    this.excluded = excluded;
    this.multiNetwork = multiNetwork;
    this.byRule = byRule;
  }

  get rows(): readonly EndpointRow[] {
    return (this.explained ??= explainRows(this.proxy, this.localities, this.duplicates, this.excluded, this.byRule));
  }
}

/**
 * `selectEndpoints` for one service port, the way EDS sees it: only endpoints of that port.
 * This is what `/debug/endpointz` shows, and what the EDS generator serves.
 */
export function selectPortEndpoints(
  proxy: SelectionProxy,
  port: ServicePort,
  endpoints: readonly Endpoint[],
  gatewaysOf: GatewaysOf,
  options: SelectOptions = {},
): EndpointSelection {
  return selectEndpoints(
    proxy,
    endpoints.filter((ep) => ep.portName === port.name),
    gatewaysOf,
    options,
  );
}

function gatewayItems(
  remote: ReadonlyMap<NetworkId, readonly Endpoint[]>,
  gatewaysByNetwork: ReadonlyMap<NetworkId, readonly NetworkGateway[]>,
  scale: number,
): LbEndpointChoice[] {
  const out: LbEndpointChoice[] = [];
  for (const [network, gateways] of gatewaysByNetwork) {
    const buckets = new Map<string, Endpoint[]>();
    for (const ep of remote.get(network) ?? []) {
      const key = `${ep.locality.region}/${ep.locality.zone}/${ep.locality.subzone}|${ep.stale === true}`;
      const bucket = buckets.get(key);
      if (bucket) bucket.push(ep);
      else buckets.set(key, [ep]);
    }
    const share = scale / gateways.length;
    for (const behind of buckets.values()) {
      const first = behind[0];
      if (!first) continue;
      for (const gateway of gateways) {
        out.push({
          kind: 'gateway',
          address: gateway.address,
          port: gateway.port,
          network,
          locality: first.locality,
          health: Health.Healthy,
          stale: first.stale === true,
          weight: behind.length * share,
          behind,
          gateway,
        });
      }
    }
  }
  return out;
}

function explainRows(
  proxy: SelectionProxy,
  groups: readonly LocalityGroup<LbEndpointChoice>[],
  duplicates: readonly DuplicateItem<LbEndpointChoice>[],
  excluded: readonly Excluded[],
  byRule: boolean,
): EndpointRow[] {
  const rows: EndpointRow[] = [];
  const match = (group: LocalityGroup<LbEndpointChoice>): string =>
    byRule ? `DestinationRule localityLbSetting level ${group.matchLevel}` : describeLocalityMatch(proxy.locality, group.locality);
  const placement = (group: LocalityGroup<LbEndpointChoice>): string => {
    switch (group.tier) {
      case PriorityTier.Fresh:
        return match(group);
      case PriorityTier.Stale:
        return `stale cluster (demoted); ${match(group)}`;
      case PriorityTier.NoHealthy:
        return 'no healthy endpoint in locality';
    }
  };
  // An endpoint behind several gateways gets one row naming all of them.
  const behind = new Map<Endpoint, { priority: number; vias: string[] }>();
  const via = (ep: Endpoint, priority: number, text: string): void => {
    const seen = behind.get(ep);
    if (!seen) behind.set(ep, { priority, vias: [text] });
    else {
      seen.priority = Math.min(seen.priority, priority);
      seen.vias.push(text);
    }
  };

  for (const group of groups) {
    for (const item of group.endpoints) {
      if (item.kind === 'endpoint') {
        for (const ep of item.behind) {
          const health = ep.health === Health.Healthy ? '' : `${ep.health}, not used for new traffic; `;
          rows.push({ ...endpointFields(ep), sent: true, priority: group.priority, weight: item.weight, reason: `${health}${placement(group)}` });
        }
        continue;
      }
      rows.push({
        kind: 'gateway',
        cluster: [...new Set(item.behind.map((e) => e.cluster))].sort().join(','),
        address: item.address,
        port: item.port,
        network: item.network,
        locality: item.locality,
        health: item.health,
        stale: item.stale,
        sent: true,
        priority: group.priority,
        weight: item.weight,
        reason: `gateway of network ${item.network} for ${item.behind.length} healthy endpoint(s); ${placement(group)}`,
      });
      for (const ep of item.behind) via(ep, group.priority, `${hostPort(item.address, item.port)} (weight ${item.weight})`);
    }
  }

  for (const { item, keptIn, merged } of duplicates) {
    if (merged) continue; // its endpoints are in the `behind` of the gateway it was folded into
    for (const ep of item.behind) {
      if (item.kind === 'gateway') {
        via(ep, keptIn.priority, `${hostPort(item.address, item.port)} (already listed at priority ${keptIn.priority})`);
      } else {
        rows.push({
          ...endpointFields(ep),
          sent: false,
          priority: keptIn.priority,
          weight: 0,
          reason: `duplicate address, already listed at priority ${keptIn.priority}`,
        });
      }
    }
  }

  for (const [ep, { priority, vias }] of behind) {
    const gateways = vias.length > 1 ? 'gateways' : 'gateway';
    rows.push({ ...endpointFields(ep), sent: false, priority, weight: 0, reason: `other network ${ep.network} via ${gateways} ${vias.join(', ')}` });
  }
  for (const { endpoint, reason } of excluded) {
    rows.push({ ...endpointFields(endpoint), sent: false, priority: undefined, weight: 0, reason });
  }
  return rows;
}

function endpointFields(ep: Endpoint): Pick<EndpointRow, 'kind' | 'cluster' | 'address' | 'port' | 'network' | 'locality' | 'health' | 'stale'> {
  return {
    kind: 'endpoint',
    cluster: ep.cluster,
    address: ep.address,
    port: ep.port,
    network: ep.network,
    locality: ep.locality,
    health: ep.health,
    stale: ep.stale === true,
  };
}

function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

function lcm(values: readonly number[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return values.reduce((acc, v) => (acc * v) / gcd(acc, v), 1);
}
