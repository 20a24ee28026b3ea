import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILTIN_RESOURCES, type ResourceType } from './resources.ts';
import { ObjectStore, type StoreEvent } from './store.ts';

function rt(resource: string): ResourceType {
  const found = BUILTIN_RESOURCES.find((r) => r.resource === resource);
  assert.ok(found);
  return found;
}
const services = rt('services');
const namespaces = rt('namespaces');
const secrets = rt('secrets');

describe('ObjectStore', () => {
  it('stamps uid, creationTimestamp, generation and a global, increasing resourceVersion', () => {
    const store = new ObjectStore({ initialResourceVersion: 10 });
    const a = store.create(services, { metadata: { name: 'a' } }, 'ns');
    const b = store.create(secrets, { metadata: { name: 'b' } }, 'ns');
    assert.ok(a.ok && b.ok);
    assert.equal(a.value.metadata?.resourceVersion, '11');
    assert.equal(b.value.metadata?.resourceVersion, '12');
    assert.match(a.value.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(a.value.metadata?.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(a.value.kind, 'Service');
    assert.equal(store.resourceVersion, 12);
  });

  it('answers AlreadyExists, NotFound and Conflict as Status values', () => {
    const store = new ObjectStore();
    assert.ok(store.create(services, { metadata: { name: 'a' } }, 'ns').ok);
    const dup = store.create(services, { metadata: { name: 'a' } }, 'ns');
    assert.ok(!dup.ok);
    assert.equal(dup.status.reason, 'AlreadyExists');
    assert.equal(dup.status.code, 409);
    const missing = store.delete(services, 'ns', 'zz');
    assert.ok(!missing.ok);
    assert.equal(missing.status.code, 404);
    const stale = store.update(services, { metadata: { name: 'a', resourceVersion: '1' }, spec: { type: 'NodePort' } }, 'main', 'ns');
    assert.ok(!stale.ok);
    assert.equal(stale.status.reason, 'Conflict');
  });

  it('bumps the RV on every real change and keeps it on a no-op update', () => {
    const store = new ObjectStore();
    const a = store.create(services, { metadata: { name: 'a' }, spec: { ports: [{ port: 80 }] } }, 'ns');
    assert.ok(a.ok);
    const same = store.update(services, a.value, 'main', 'ns');
    assert.ok(same.ok);
    assert.equal(same.value.metadata?.resourceVersion, a.value.metadata?.resourceVersion);
    const changed = store.update(services, { ...a.value, metadata: { ...a.value.metadata, labels: { x: 'y' } } }, 'main', 'ns');
    assert.ok(changed.ok);
    assert.notEqual(changed.value.metadata?.resourceVersion, a.value.metadata?.resourceVersion);
    assert.equal(changed.value.metadata?.generation, 1, 'metadata-only change keeps generation');
  });

  it('serves a past snapshot from history, and 410 once compacted', () => {
    const store = new ObjectStore();
    assert.ok(store.create(services, { metadata: { name: 'a' } }, 'ns').ok);
    const rv = store.resourceVersion;
    assert.ok(store.create(services, { metadata: { name: 'b' } }, 'ns').ok);
    assert.ok(store.delete(services, 'ns', 'a').ok);
    const past = store.list(services, undefined, rv);
    assert.ok(past.ok);
    assert.deepEqual(past.value.items.map(([k]) => k), ['ns/a']);
    store.compact();
    const gone = store.list(services, undefined, rv);
    assert.ok(!gone.ok);
    assert.equal(gone.status.code, 410);
    const events = store.eventsAfter(rv);
    assert.ok(!events.ok);
  });

  it('bounded history moves the compaction point', () => {
    const store = new ObjectStore({ historySize: 2, initialResourceVersion: 0 });
    for (const n of ['a', 'b', 'c']) assert.ok(store.create(services, { metadata: { name: n } }, 'ns').ok);
    assert.equal(store.compactedResourceVersion, 1);
    assert.ok(!store.eventsAfter(0).ok);
    const after1 = store.eventsAfter(1);
    assert.ok(after1.ok);
    assert.deepEqual(after1.value.map((e) => e.object.metadata?.name), ['b', 'c']);
  });

  it('deleting a namespace deletes its contents, with DELETED events for each', () => {
    const store = new ObjectStore();
    const seen: StoreEvent[] = [];
    assert.ok(store.create(namespaces, { metadata: { name: 'ns' } }).ok);
    assert.ok(store.create(services, { metadata: { name: 'a' } }, 'ns').ok);
    assert.ok(store.create(services, { metadata: { name: 'b' } }, 'other').ok);
    store.subscribe((e) => seen.push(e));
    assert.ok(store.delete(namespaces, undefined, 'ns').ok);
    assert.deepEqual(seen.map((e) => `${e.type} ${e.rt.resource} ${e.object.metadata?.name ?? ''}`), ['DELETED services a', 'DELETED namespaces ns']);
    assert.equal(store.get(services, 'other', 'b')?.metadata?.name, 'b');
  });

  it('applies server-side defaults: ClusterIP, Secret stringData, namespace label', () => {
    const store = new ObjectStore();
    const svc = store.create(services, { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }, 'ns');
    assert.ok(svc.ok);
    const spec = svc.value['spec'] as { clusterIP: string; ports: { protocol: string; targetPort: number }[] };
    assert.match(spec.clusterIP, /^10\.96\./);
    assert.deepEqual(spec.ports[0], { port: 80, protocol: 'TCP', targetPort: 80 });
    const sec = store.create(secrets, { metadata: { name: 'k' }, stringData: { a: 'hi' } }, 'ns');
    assert.ok(sec.ok);
    assert.deepEqual(sec.value['data'], { a: Buffer.from('hi').toString('base64') });
    assert.equal(sec.value['stringData'], undefined);
  });
});
