import type { GeneratedResource } from '../resource-source.ts';
import type { TypeUrl } from '../type-url.ts';
import { type ChangeSet } from '../change-set.ts';
import { encodeResource } from './generator.ts';

/**
 * Views multiply resources: every locality, network or cluster a proxy claims is a view of
 * its own, and a proxy may claim anything. A thousand services with ten views each fit.
 */
export const DEFAULT_MAX_CACHE_ENTRIES = 50_000;

/**
 * Where a cached resource's bytes come from. They stay until a push names what they depend on:
 * a service's definition (its endpoints included), its endpoints alone, any gateway, any
 * service at all (resources gathering every service on a port), any traffic policy, or the
 * DestinationRule of one host.
 */
export type Dependency =
  | { readonly on: 'service'; readonly hostname: string }
  | { readonly on: 'endpoints'; readonly hostname: string }
  | { readonly on: 'gateways' }
  | { readonly on: 'any-service' }
  | { readonly on: 'traffic-policy' }
  /** The host's DestinationRule (dropped by any traffic change that does not say which hosts it reaches). */
  | { readonly on: 'destination'; readonly hostname: string }
  | { readonly on: 'security-policy' }
  | { readonly on: 'telemetry' };

/**
 * A cached resource is one resource name as one view sees it. `view` holds everything the
 * resource reads from the proxy (`''` when nothing): proxies with the same view share bytes.
 */
export interface CacheKey {
  readonly type: TypeUrl;
  readonly name: string;
  readonly view: string;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
}

interface Entry {
  readonly resource: GeneratedResource;
  readonly deps: readonly string[];
}

/**
 * Encoded resources kept across pushes, dropped by the changes they depend on. Only
 * resources that exist are cached, and at most `maxEntries`, oldest out first, so no stream
 * of requests can grow it without bound.
 */
export class ResourceCache {
  /** In insertion order, so the first entry is the one to evict. */
  private readonly entries = new Map<string, Entry>();
  /** Dependency → the entries that depend on it. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly maxEntries: number;
  readonly stats: CacheStats = { entries: 0, hits: 0, misses: 0, evictions: 0 };

  constructor(maxEntries = DEFAULT_MAX_CACHE_ENTRIES) {
    this.maxEntries = maxEntries;
  }

  /** The cached resource, or `build` encoded and kept. */
  resource(key: CacheKey, deps: readonly Dependency[], build: () => object | Uint8Array): GeneratedResource {
    const id = `${key.type}\n${key.name}\n${key.view}`;
    const hit = this.entries.get(id);
    if (hit) {
      this.stats.hits++;
      return hit.resource;
    }
    this.stats.misses++;
    const resource = encodeResource(key.type, key.name, build());
    if (this.entries.size >= this.maxEntries) this.evictOldest();
    const depIds = deps.map(dependencyId);
    this.entries.set(id, { resource, deps: depIds });
    for (const dep of depIds) {
      let set = this.dependents.get(dep);
      if (!set) this.dependents.set(dep, (set = new Set()));
      set.add(id);
    }
    this.stats.entries = this.entries.size;
    return resource;
  }

  /** Drops what a push's changes make stale. */
  invalidate(changes: ChangeSet): void {
    if (changes.everything) {
      this.entries.clear();
      this.dependents.clear();
    } else {
      if (changes.anyService) this.drop(dependencyId({ on: 'any-service' }));
      if (changes.gateways) this.drop(dependencyId({ on: 'gateways' }));
      if (changes.trafficPolicy) this.drop(dependencyId({ on: 'traffic-policy' }));
      if (changes.destinations === 'all') {
        if (changes.trafficPolicy) for (const dep of [...this.dependents.keys()]) if (dep.startsWith(DESTINATION_PREFIX)) this.drop(dep);
      } else {
        for (const hostname of changes.destinations) this.drop(dependencyId({ on: 'destination', hostname }));
      }
      if (changes.securityPolicy) this.drop(dependencyId({ on: 'security-policy' }));
      if (changes.telemetry) this.drop(dependencyId({ on: 'telemetry' }));
      for (const hostname of changes.services) {
        this.drop(dependencyId({ on: 'service', hostname }));
        this.drop(dependencyId({ on: 'endpoints', hostname }));
      }
      for (const hostname of changes.endpoints) this.drop(dependencyId({ on: 'endpoints', hostname }));
    }
    this.stats.entries = this.entries.size;
  }

  private drop(dep: string): void {
    const ids = this.dependents.get(dep);
    if (!ids) return;
    this.dependents.delete(dep);
    for (const id of ids) this.remove(id);
  }

  private remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    for (const dep of entry.deps) {
      const set = this.dependents.get(dep);
      set?.delete(id);
      if (set?.size === 0) this.dependents.delete(dep);
    }
  }

  /** Oldest first rather than least recently used: a hit then costs no bookkeeping. */
  private evictOldest(): void {
    for (const id of this.entries.keys()) {
      this.remove(id);
      this.stats.evictions++;
      return;
    }
  }
}

const DESTINATION_PREFIX = 'destination:';

function dependencyId(dep: Dependency): string {
  return 'hostname' in dep ? `${dep.on}:${dep.hostname}` : dep.on;
}
