// Raw watch semantics through client-node's Watch: replay, selectors,
// BOOKMARKs, timeouts and 410 on compaction.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeApiServer, type KubeApiServerOptions } from './server.ts';
import { eventually, statusCodeOf } from './test-support.ts';

interface Seen {
  type: string;
  name: string;
  rv: string;
  code?: number;
  annotations?: Record<string, string>;
}

interface Watching {
  events: Seen[];
  done: Promise<unknown>;
  abort: () => void;
}

async function startServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const s = await KubeApiServer.start(options);
  after(() => s.close());
  return s;
}

async function watch(server: KubeApiServer, path: string, query: Record<string, string | number | boolean>): Promise<Watching> {
  const events: Seen[] = [];
  let resolveDone: (err: unknown) => void = () => undefined;
  const done = new Promise<unknown>((r) => (resolveDone = r));
  const w = new k8s.Watch(server.kubeConfig());
  const controller = await w.watch(
    path,
    query,
    (type, obj: k8s.KubernetesObject & { code?: number }) => {
      events.push({
        type,
        name: obj.metadata?.name ?? '',
        rv: obj.metadata?.resourceVersion ?? '',
        ...(obj.code !== undefined ? { code: obj.code } : {}),
        ...(obj.metadata?.annotations ? { annotations: obj.metadata.annotations } : {}),
      });
    },
    (err) => resolveDone(err),
  );
  after(() => controller.abort());
  return { events, done, abort: () => controller.abort() };
}

const svc = (name: string, labels: Record<string, string> = {}, namespace = 'default'): k8s.KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace, labels },
});

describe('watch', () => {
  it('with no resourceVersion sends the current objects as ADDED, then live changes in order', async () => {
    const s = await startServer();
    s.upsert(svc('a'));
    const w = await watch(s, '/api/v1/namespaces/default/services', {});
    await eventually('initial ADDED', () => w.events.length === 1);
    s.upsert(svc('b'));
    s.upsert(svc('a', { changed: 'yes' }));
    s.remove({ apiVersion: 'v1', kind: 'Service', namespace: 'default', name: 'b' });
    s.upsert(svc('elsewhere', {}, 'other'));
    await eventually('three live events', () => w.events.length === 4);
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
    const rvs = w.events.slice(1).map((e) => Number(e.rv));
    assert.deepEqual(rvs, [...rvs].sort((x, y) => x - y), 'RVs increase');
    assert.equal(new Set(rvs).size, rvs.length, 'every change has its own RV');
  });

  it('from a resourceVersion replays exactly the changes after it', async () => {
    const s = await startServer();
    s.upsert(svc('a'));
    const from = s.resourceVersion;
    s.upsert(svc('b'));
    s.upsert(svc('a', { v: '2' }));
    const w = await watch(s, '/api/v1/services', { resourceVersion: from });
    await eventually('replayed events', () => w.events.length === 2);
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED b', 'MODIFIED a']);
  });

  it('applies label selectors, turning moves in and out of the selection into ADDED/DELETED', async () => {
    const s = await startServer();
    s.upsert(svc('a', { app: 'web' }));
    const w = await watch(s, '/api/v1/services', { resourceVersion: s.resourceVersion, labelSelector: 'app=web' });
    await s.waitForWatches(1);
    s.upsert(svc('b', { app: 'db' }));
    s.upsert(svc('a', { app: 'web', v: '2' }));
    s.upsert(svc('a', { app: 'db' }));
    s.upsert(svc('b', { app: 'web' }));
    await eventually('selector events', () => w.events.length === 3);
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['MODIFIED a', 'DELETED a', 'ADDED b']);
  });

  it('sends periodic BOOKMARKs carrying the current RV when allowed', async () => {
    const s = await startServer({ bookmarkIntervalMs: 20 });
    s.upsert(svc('a'));
    const w = await watch(s, '/api/v1/services', { resourceVersion: s.resourceVersion, allowWatchBookmarks: true });
    await eventually('a bookmark', () => w.events.some((e) => e.type === 'BOOKMARK'));
    s.upsert(svc('b'));
    await eventually('a bookmark after the change', () => w.events.some((e) => e.type === 'BOOKMARK' && e.rv === s.resourceVersion));
    const plain = await watch(s, '/api/v1/services', { resourceVersion: s.resourceVersion });
    s.upsert(svc('c'));
    await eventually('change on plain watch', () => plain.events.length === 1);
    // Bookmarks are opt-in: a watch that did not ask never gets one.
    s.upsert(svc('d'));
    await eventually('second change on plain watch', () => plain.events.length === 2);
    assert.ok(plain.events.every((e) => e.type !== 'BOOKMARK'));
  });

  it('marks the end of initial events with an annotated BOOKMARK (sendInitialEvents)', async () => {
    const s = await startServer();
    s.upsert(svc('a'));
    s.upsert(svc('b'));
    const w = await watch(s, '/api/v1/services', { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true });
    await eventually('initial events and bookmark', () => w.events.length === 3);
    assert.deepEqual(w.events.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK']);
    assert.equal(w.events[2]?.annotations?.['k8s.io/initial-events-end'], 'true');
  });

  it('ends cleanly after timeoutSeconds', async () => {
    const s = await startServer();
    const w = await watch(s, '/api/v1/services', { timeoutSeconds: 1 });
    assert.equal(await w.done, null);
  });

  it('from a compacted RV sends an ERROR 410 event and closes', async () => {
    const s = await startServer();
    s.upsert(svc('a'));
    const old = s.resourceVersion;
    s.upsert(svc('b'));
    s.compact();
    const w = await watch(s, '/api/v1/services', { resourceVersion: old });
    assert.equal(await w.done, null);
    assert.deepEqual(w.events, [{ type: 'ERROR', name: '', rv: '', code: 410 }]);
  });

  it('from a compacted RV answers HTTP 410 when watchGoneAsHttpStatus is set', async () => {
    const s = await startServer({ watchGoneAsHttpStatus: true });
    s.upsert(svc('a'));
    const old = s.resourceVersion;
    s.upsert(svc('b'));
    s.compact();
    const w = await watch(s, '/api/v1/services', { resourceVersion: old });
    assert.equal(statusCodeOf(await w.done), 410);
  });

  it('history is bounded: watching from before the oldest kept change is 410', async () => {
    const s = await startServer({ historySize: 3 });
    const start = s.resourceVersion;
    for (const n of ['a', 'b', 'c', 'd']) s.upsert(svc(n));
    const w = await watch(s, '/api/v1/services', { resourceVersion: start });
    await w.done;
    assert.equal(w.events[0]?.code, 410);
  });

  it('from a future RV skips changes up to it', async () => {
    const s = await startServer();
    const future = String(Number(s.resourceVersion) + 2);
    const w = await watch(s, '/api/v1/services', { resourceVersion: future });
    await s.waitForWatches(1);
    for (const n of ['a', 'b', 'c']) s.upsert(svc(n));
    await eventually('only the change after the RV', () => w.events.length === 1);
    assert.equal(w.events[0]?.name, 'c');
  });

  it('serves legacy /watch/ paths and single-object watches', async () => {
    const s = await startServer();
    s.upsert(svc('a'));
    s.upsert(svc('b'));
    const w = await watch(s, '/api/v1/watch/namespaces/default/services', { fieldSelector: 'metadata.name=b' });
    await eventually('only b', () => w.events.length === 1);
    assert.equal(w.events[0]?.name, 'b');
  });
});
