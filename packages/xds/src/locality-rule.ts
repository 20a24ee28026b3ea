/**
 * A DestinationRule's `loadBalancer.localityLbSetting` as priority levels (0 best) for the
 * endpoints a proxy is sent, in place of Meridian's default region/zone/subzone levels:
 *
 * - `enabled: false`: no preference at all; every endpoint is one level.
 * - `failoverPriority` (Istio's ordered labels): an endpoint's level is the number of labels
 *   left once the longest leading run that matches the proxy is taken off. The topology labels
 *   are read from what both sides carry: `topology.istio.io/network`, `topology.istio.io/cluster`,
 *   `topology.kubernetes.io/region`, `topology.kubernetes.io/zone`, `topology.istio.io/subzone`;
 *   any other label compares the workload's labels (the proxy's own, the endpoint's pod's).
 * - `failover` (`from` region → `to` region): for a proxy in `from`, endpoints in `to` come
 *   right after the proxy's own region, before every other region.
 *
 * - `distribute` (`from` locality → weights per `to` locality): for a proxy in `from`, every
 *   locality a `to` names is in one priority with that share of the traffic (split among the
 *   localities one pattern matches by their own weights), and the localities no `to` names,
 *   or names with 0, get none.
 */
import type { Endpoint, Locality, LocalityLbRule, ProxyNode } from '@meridian/model';
import { localityMatchLevel, type LocalityGroup, type Rankable } from './priority.ts';

/** What a level is computed from on the endpoint side (a gateway stands for the endpoints behind it). */
export interface LevelSubject {
  readonly network: string;
  readonly locality: Endpoint['locality'];
  readonly behind: readonly Endpoint[];
}

export type LocalityProxy = Pick<ProxyNode, 'cluster' | 'network' | 'locality'> & { readonly labels?: Readonly<Record<string, string>> };

/** The level function of a rule for one proxy; `undefined`: Meridian's default ordering applies. */
export function localityRuleLevels(rule: LocalityLbRule | undefined, proxy: LocalityProxy): ((item: LevelSubject) => number) | undefined {
  if (!rule) return undefined;
  if (!rule.enabled) return () => 0;
  if (rule.failoverPriority.length > 0) {
    const labels = rule.failoverPriority.map((l) => l.split('=')[0] ?? l);
    return (item) => {
      let matched = 0;
      while (matched < labels.length && sameValue(labels[matched] ?? '', proxy, item)) matched++;
      return labels.length - matched;
    };
  }
  const to = rule.failover.find((f) => f.from === proxy.locality.region)?.to;
  if (to !== undefined) {
    return (item) => {
      const level = localityMatchLevel(proxy.locality, item.locality);
      if (level < 3) return level;
      return item.locality.region === to ? 3 : 4;
    };
  }
  return undefined;
}

function sameValue(label: string, proxy: LocalityProxy, item: LevelSubject): boolean {
  const first = item.behind[0];
  switch (label) {
    case 'topology.istio.io/network':
      return proxy.network === item.network;
    case 'topology.istio.io/cluster':
      return first !== undefined && proxy.cluster === first.cluster;
    case 'topology.kubernetes.io/region':
      return proxy.locality.region === item.locality.region;
    case 'topology.kubernetes.io/zone':
      return proxy.locality.region === item.locality.region && proxy.locality.zone === item.locality.zone;
    case 'topology.istio.io/subzone':
      return proxy.locality.region === item.locality.region && proxy.locality.zone === item.locality.zone && proxy.locality.subzone === item.locality.subzone;
    default: {
      const mine = proxy.labels?.[label];
      return mine !== undefined && first?.labels?.[label] === mine;
    }
  }
}

/** The `to` weights of the first `distribute` entry whose `from` matches the proxy's locality. */
export function distributionFor(rule: LocalityLbRule | undefined, proxy: LocalityProxy): Readonly<Record<string, number>> | undefined {
  if (!rule?.enabled) return undefined;
  return rule.distribute.find((d) => localityMatches(proxy.locality, d.from))?.to;
}

/**
 * Groups weighted as a distribution says, all in priority 0 (one locality, one group): a
 * pattern's weight is split among the localities it matches in proportion to their own
 * weights, each matched by its first pattern (Istio's order). What no pattern gives a share
 * is `dropped`.
 */
export function distributeGroups<T extends Rankable>(
  groups: readonly LocalityGroup<T>[],
  to: Readonly<Record<string, number>>,
): { groups: LocalityGroup<T>[]; dropped: LocalityGroup<T>[] } {
  const byLocality = new Map<string, LocalityGroup<T>>();
  for (const g of groups) {
    const key = `${g.locality.region}/${g.locality.zone}/${g.locality.subzone}`;
    const seen = byLocality.get(key);
    byLocality.set(key, seen ? { ...seen, endpoints: [...seen.endpoints, ...g.endpoints], weight: seen.weight + g.weight } : g);
  }
  const unmatched = new Set(byLocality.values());
  const weighted: LocalityGroup<T>[] = [];
  for (const [pattern, share] of Object.entries(to)) {
    const matched = [...unmatched].filter((g) => localityMatches(g.locality, pattern));
    const total = matched.reduce((n, g) => n + g.weight, 0);
    for (const g of matched) {
      unmatched.delete(g);
      const weight = Math.ceil((g.weight * share) / total);
      if (weight > 0) weighted.push({ ...g, priority: 0, weight, level: 0 });
    }
  }
  const dropped = groups.filter((g) => !weighted.some((w) => sameLocality(w.locality, g.locality)));
  return { groups: weighted, dropped };
}

/** Istio's locality pattern: `region/zone/subzone`, `*` for any, a missing part matching all. */
function localityMatches(locality: Locality, pattern: string): boolean {
  const [region = '', zone = '', subzone = ''] = pattern.split('/');
  const part = (want: string, have: string, optional: boolean) => want === '*' || (optional && want === '') || want === have;
  return part(region, locality.region, false) && part(zone, locality.zone, true) && part(subzone, locality.subzone, true);
}

function sameLocality(a: Locality, b: Locality): boolean {
  return a.region === b.region && a.zone === b.zone && a.subzone === b.subzone;
}
