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
 * `distribute` is not applied (reported).
 */
import type { Endpoint, LocalityLbRule, ProxyNode } from '@meridian/model';
import { localityMatchLevel } from './priority.ts';

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
