import { Health, type Endpoint, type Locality } from '@meridian/model';

/**
 * Locality failover (DESIGN.md §5): endpoints in the proxy's region/zone/subzone are
 * priority 0, same region+zone 1, same region 2, the rest 3. Localities with no healthy
 * endpoint go after all others so a client fails over at once instead of waiting for an
 * empty priority to time out. Priorities are then renumbered without gaps, as gRPC and
 * Envoy both require.
 */
export function localityMatchLevel(proxy: Locality, endpoint: Locality): number {
  if (!proxy.region) return 0; // a proxy that does not say where it is prefers nothing
  if (proxy.region !== endpoint.region) return 3;
  if (proxy.zone !== endpoint.zone) return 2;
  if (proxy.subzone !== endpoint.subzone) return 1;
  return 0;
}

export interface LocalityGroup {
  readonly locality: Locality;
  /** Endpoints of this locality, in their registry order. */
  readonly endpoints: readonly Endpoint[];
  readonly priority: number;
  /** Healthy endpoints, or all of them when none is healthy; always at least 1. */
  readonly weight: number;
  /** Why: the match level before renumbering (4 = no healthy endpoint). */
  readonly level: number;
}

const NO_HEALTHY_LEVEL = 4;

export function groupByPriority(proxy: Locality, endpoints: readonly Endpoint[]): LocalityGroup[] {
  const byLocality = new Map<string, { locality: Locality; endpoints: Endpoint[] }>();
  for (const ep of endpoints) {
    const key = `${ep.locality.region}/${ep.locality.zone}/${ep.locality.subzone}`;
    let group = byLocality.get(key);
    if (!group) byLocality.set(key, (group = { locality: ep.locality, endpoints: [] }));
    group.endpoints.push(ep);
  }
  const groups = [...byLocality.values()].map((g) => {
    const healthy = g.endpoints.filter((e) => e.health === Health.Healthy).length;
    return {
      ...g,
      level: healthy > 0 ? localityMatchLevel(proxy, g.locality) : NO_HEALTHY_LEVEL,
      weight: healthy > 0 ? healthy : g.endpoints.length,
    };
  });
  const levels = [...new Set(groups.map((g) => g.level))].sort((a, b) => a - b);
  return groups
    .map((g) => ({ ...g, priority: levels.indexOf(g.level) }))
    .sort((a, b) => a.priority - b.priority || localityKey(a.locality).localeCompare(localityKey(b.locality)));
}

function localityKey(l: Locality): string {
  return `${l.region}/${l.zone}/${l.subzone}`;
}
