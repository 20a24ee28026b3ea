import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, hostnameKeys, type PushRequest } from '@meridian/model';
import { changeSetOf } from '../change-set.ts';
import { TypeUrl } from '../type-url.ts';
import { ResourceCache, type Dependency } from './resource-cache.ts';

const A = 'a.demo.svc.cluster.local';
const B = 'b.demo.svc.cluster.local';
const cla = (name: string) => ({ cluster_name: name, endpoints: [] });

/** A cache holding one assignment per dependency shape; `kept()` says which are still cached. */
function filled() {
  const cache = new ResourceCache();
  const entries: Array<[string, Dependency[]]> = [
    ['a-service', [{ on: 'service', hostname: A }]],
    ['a-endpoints', [{ on: 'endpoints', hostname: A }, { on: 'gateways' }]],
    ['b-endpoints', [{ on: 'endpoints', hostname: B }, { on: 'gateways' }]],
    ['every-service', [{ on: 'any-service' }]],
    ['fixed', []],
  ];
  for (const [name, deps] of entries) cache.resource({ type: TypeUrl.Endpoint, name, view: '' }, deps, () => cla(name));
  const kept = () =>
    entries
      .map(([name]) => name)
      .filter((name) => {
        const misses = cache.stats.misses;
        cache.resource({ type: TypeUrl.Endpoint, name, view: '' }, [], () => cla(name));
        return cache.stats.misses === misses;
      });
  return { cache, kept };
}

const push = (kind: 'full' | 'endpoints', configs: PushRequest['configs']): PushRequest => ({ kind, configs, reasons: [] });

describe('ResourceCache', () => {
  it('an Endpoints key drops what depends on that service’s endpoints only', () => {
    const { cache, kept } = filled();
    cache.invalidate(changeSetOf(push('endpoints', hostnameKeys(ConfigKind.Endpoints, [A]))));
    assert.deepEqual(kept(), ['a-service', 'b-endpoints', 'every-service', 'fixed']);
  });

  it('a Service key drops its service and its endpoints, and everything gathering every service', () => {
    const { cache, kept } = filled();
    cache.invalidate(changeSetOf(push('full', hostnameKeys(ConfigKind.Service, [A]))));
    assert.deepEqual(kept(), ['b-endpoints', 'fixed']);
  });

  it('a Gateway key drops every assignment and nothing else', () => {
    const { cache, kept } = filled();
    cache.invalidate(changeSetOf(push('endpoints', [{ kind: ConfigKind.Gateway, namespace: '', name: 'west' }])));
    assert.deepEqual(kept(), ['a-service', 'every-service', 'fixed']);
  });

  it('a push naming everything drops everything', () => {
    const { cache, kept } = filled();
    cache.invalidate(changeSetOf(push('full', [])));
    assert.deepEqual(kept(), []);
    assert.equal(cache.stats.entries, 5, 'each was built again by kept()');
  });

  it('a service change merged with another service’s endpoints change keeps the first one’s definition-only entries', () => {
    const { cache, kept } = filled();
    const merged = push('full', [...hostnameKeys(ConfigKind.Service, [B]), ...hostnameKeys(ConfigKind.Endpoints, [A])]);
    cache.invalidate(changeSetOf(merged));
    assert.deepEqual(kept(), ['a-service', 'fixed']);
  });

  it('stays within its bound, oldest out first, and forgets evicted entries’ dependencies', () => {
    const cache = new ResourceCache(3);
    for (let i = 0; i < 10; i++) cache.resource({ type: TypeUrl.Endpoint, name: `n${i}`, view: '' }, [{ on: 'endpoints', hostname: A }], () => cla(`n${i}`));
    assert.equal(cache.stats.entries, 3);
    assert.equal(cache.stats.evictions, 7);
    cache.invalidate(changeSetOf(push('endpoints', hostnameKeys(ConfigKind.Endpoints, [A]))));
    assert.equal(cache.stats.entries, 0);
  });
});
