import { Health, type Endpoint, type Locality } from '@meridian/model';

/**
 * Locality failover (DESIGN.md §5): endpoints in the proxy's region/zone/subzone are
 * priority 0, same region+zone 1, same region 2, the rest 3.
 */
export function localityMatchLevel(proxy: Locality, endpoint: Locality): number {
  if (!proxy.region) return 0; // a proxy that does not say where it is prefers nothing
  if (proxy.region !== endpoint.region) return 3;
  if (proxy.zone !== endpoint.zone) return 2;
  if (proxy.subzone !== endpoint.subzone) return 1;
  return 0;
}

/** Short words for a match level, as `/debug/endpointz` shows them. */
export function describeLocalityMatch(proxy: Locality, endpoint: Locality): string {
  if (!proxy.region) return 'proxy states no locality';
  const { region, zone, subzone } = endpoint;
  switch (localityMatchLevel(proxy, endpoint)) {
    case 0:
      if (subzone) return `same region/zone/subzone (${region}/${zone}/${subzone})`;
      return zone ? `same region/zone (${region}/${zone})` : `same region (${region})`;
    case 1:
      return `same region/zone, other subzone (${region}/${zone})`;
    case 2:
      return `same region, other zone (${region})`;
    default:
      return 'other region';
  }
}

/**
 * The three bands a locality falls in, best first. Fresh healthy localities come first.
 * Stale ones come next: the cluster's API server is out of reach, but its workloads most
 * likely still serve, so they are a better last resort than endpoints known to be down.
 * Localities with no healthy endpoint come last, so a client fails over at once instead of
 * waiting on a priority that cannot serve.
 */
export const PriorityTier = {
  Fresh: 'fresh',
  Stale: 'stale',
  NoHealthy: 'no-healthy',
} as const;
export type PriorityTier = (typeof PriorityTier)[keyof typeof PriorityTier];

/** Room for every level a rule can make (failoverPriority labels, failover's extra region level); ranks are renumbered after. */
const MATCH_LEVELS = 16;

/** Rank before renumbering: fresh 0..3, stale 4..7, no healthy endpoint 8. */
export function priorityRank(tier: PriorityTier, matchLevel: number): number {
  switch (tier) {
    case PriorityTier.Fresh:
      return matchLevel;
    case PriorityTier.Stale:
      return MATCH_LEVELS + matchLevel;
    case PriorityTier.NoHealthy:
      return 2 * MATCH_LEVELS;
  }
}

/** What can be placed in a locality: a registry endpoint, or a gateway standing for several. */
export interface Rankable {
  readonly locality: Locality;
  readonly health: Health;
  readonly stale?: boolean | undefined;
  /** The lb_endpoint weight; 1 when absent. */
  readonly weight?: number | undefined;
}

export interface LocalityGroup<T extends Rankable = Endpoint> {
  readonly locality: Locality;
  /** Items of this locality and band, in input order. */
  readonly endpoints: readonly T[];
  /** Contiguous from 0, as gRPC and Envoy both require. */
  readonly priority: number;
  /** Sum of healthy item weights, or the item count when none is healthy; always at least 1. */
  readonly weight: number;
  readonly tier: PriorityTier;
  /** `localityMatchLevel` of this locality for the proxy. */
  readonly matchLevel: number;
  /** `priorityRank` before renumbering. */
  readonly level: number;
}

/** An item left out because its address was already placed. */
export interface DuplicateItem<T extends Rankable> {
  readonly item: T;
  /** The group that holds the address. */
  readonly keptIn: LocalityGroup<T>;
  /** Whether its weight was folded into the kept item (same priority) or it was dropped. */
  readonly merged: boolean;
}

export interface GroupOptions<T extends Rankable> {
  /**
   * The address of an item. gRPC rejects a ClusterLoadAssignment that lists one address twice
   * anywhere in it, even across localities or priorities, so each address is placed once: at
   * its best priority, in the first locality (by name) that has it.
   */
  readonly addressOf?: (item: T) => string;
  /**
   * Folds a duplicate into the item already placed at the same priority (a gateway standing
   * for endpoints of several localities). Returns undefined to drop the duplicate instead.
   * Duplicates at a worse priority are always dropped: the address is already reachable earlier.
   */
  readonly merge?: (kept: T, duplicate: T) => T | undefined;
  /**
   * How well an item matches the proxy, 0 best: a DestinationRule's localityLbSetting.
   * Default: `localityMatchLevel` of the item's locality.
   */
  readonly matchLevel?: (item: T) => number;
}

export interface Grouping<T extends Rankable> {
  readonly groups: LocalityGroup<T>[];
  readonly duplicates: DuplicateItem<T>[];
}

interface Partition<T> {
  readonly locality: Locality;
  readonly key: string;
  items: T[];
  tier: PriorityTier;
  matchLevel: number;
  rank: number;
}

/**
 * Groups items by locality and band and gives each group a priority. A locality holding both
 * fresh and stale items becomes two groups at different priorities: gRPC (grpc-js-xds
 * `EndpointResourceType.validateResource`) rejects one locality twice only at the same
 * priority, and its priority policy names children by priority then locality, so the split is
 * accepted; Envoy accepts it too. Items with no healthy endpoint are merged per locality so a
 * locality is never listed twice in that last band.
 */
export function groupItems<T extends Rankable>(proxy: Locality, items: readonly T[], options: GroupOptions<T> = {}): Grouping<T> {
  const partitions = partition(proxy, items, options.matchLevel);
  partitions.sort(byRankThenLocality);
  const duplicates = options.addressOf ? dedupe(partitions, options.addressOf, options.merge) : [];
  const kept = partitions.filter((p) => p.items.length > 0);
  const ranks = [...new Set(kept.map((p) => p.rank))].sort((a, b) => a - b);
  const groupOf = new Map<Partition<T>, LocalityGroup<T>>();
  const groups = kept.map((p) => {
    const group: LocalityGroup<T> = {
      locality: p.locality,
      endpoints: p.items,
      priority: ranks.indexOf(p.rank),
      weight: Math.max(1, healthyWeight(p.items) || p.items.length),
      tier: p.tier,
      matchLevel: p.matchLevel,
      level: p.rank,
    };
    groupOf.set(p, group);
    return group;
  });
  return {
    groups,
    duplicates: duplicates.flatMap((d) => {
      const keptIn = groupOf.get(d.keptIn);
      return keptIn ? [{ item: d.item, keptIn, merged: d.merged }] : [];
    }),
  };
}

/** `groupItems` without address dedupe, for plain registry endpoints. */
export function groupByPriority<T extends Rankable = Endpoint>(proxy: Locality, items: readonly T[]): LocalityGroup<T>[] {
  return groupItems(proxy, items).groups;
}

function partition<T extends Rankable>(proxy: Locality, items: readonly T[], levelOf?: (item: T) => number): Partition<T>[] {
  const byKey = new Map<string, Partition<T>>();
  for (const item of items) {
    // A rule may rank two items of one locality apart (by cluster or network): they part too.
    const level = levelOf ? Math.min(levelOf(item), MATCH_LEVELS - 1) : localityMatchLevel(proxy, item.locality);
    const key = `${localityKey(item.locality)}|${item.stale ? 'stale' : 'fresh'}|${level}`;
    let p = byKey.get(key);
    if (!p) {
      p = { locality: item.locality, key, items: [], tier: PriorityTier.Fresh, matchLevel: level, rank: 0 };
      byKey.set(key, p);
    }
    p.items.push(item);
  }
  const out: Partition<T>[] = [];
  const noHealthyByLocality = new Map<string, Partition<T>>();
  for (const p of byKey.values()) {
    if (healthyWeight(p.items) > 0) {
      p.tier = p.key.includes('|stale|') ? PriorityTier.Stale : PriorityTier.Fresh;
    } else {
      p.tier = PriorityTier.NoHealthy;
      const lk = localityKey(p.locality);
      const same = noHealthyByLocality.get(lk);
      if (same) {
        same.items.push(...p.items);
        continue;
      }
      noHealthyByLocality.set(lk, p);
    }
    p.rank = priorityRank(p.tier, p.matchLevel);
    out.push(p);
  }
  return out;
}

interface RawDuplicate<T> {
  readonly item: T;
  readonly keptIn: Partition<T>;
  readonly merged: boolean;
}

function dedupe<T extends Rankable>(
  partitions: readonly Partition<T>[],
  addressOf: (item: T) => string,
  merge: ((kept: T, duplicate: T) => T | undefined) | undefined,
): RawDuplicate<T>[] {
  const seen = new Map<string, { partition: Partition<T>; index: number }>();
  const duplicates: RawDuplicate<T>[] = [];
  for (const p of partitions) {
    const items: T[] = [];
    for (const item of p.items) {
      const address = addressOf(item);
      const first = seen.get(address);
      if (!first) {
        // Index is where it will sit once this partition's survivors are written back.
        seen.set(address, { partition: p, index: items.length });
        items.push(item);
        continue;
      }
      const target = first.partition === p ? items : first.partition.items;
      const kept = target[first.index];
      const merged = kept && first.partition.rank === p.rank && merge ? merge(kept, item) : undefined;
      if (merged) target[first.index] = merged;
      duplicates.push({ item, keptIn: first.partition, merged: merged !== undefined });
    }
    p.items = items;
  }
  return duplicates;
}

/**
 * Localities of one rank by region, zone, subzone, each in code-unit order: not localeCompare,
 * whose order follows the host's locale and ICU version, so replicas on different hosts or
 * Node versions would disagree on bytes and content hashes.
 */
function byRankThenLocality<T>(a: Partition<T>, b: Partition<T>): number {
  return (
    a.rank - b.rank ||
    codeUnitOrder(a.locality.region, b.locality.region) ||
    codeUnitOrder(a.locality.zone, b.locality.zone) ||
    codeUnitOrder(a.locality.subzone, b.locality.subzone) ||
    codeUnitOrder(a.key, b.key)
  );
}

function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function healthyWeight(items: readonly Rankable[]): number {
  return items.reduce((sum, i) => sum + (i.health === Health.Healthy ? (i.weight ?? 1) : 0), 0);
}

function localityKey(l: Locality): string {
  return `${l.region}/${l.zone}/${l.subzone}`;
}
