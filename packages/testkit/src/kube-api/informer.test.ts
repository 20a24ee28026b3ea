// client-node informers (makeInformer / ListWatch) against the server: initial
// sync, live changes, relist on 410, dropped watches, 500s and outages. These
// are the behaviours an informer wrapper is built on, so each test also pins
// down what client-node itself does.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeApiServer, type KubeApiServerOptions } from './server.ts';
import { eventually, statusCodeOf } from './test-support.ts';

interface Harness {
  server: KubeApiServer;
  informer: k8s.Informer<k8s.V1Service> & k8s.ObjectCache<k8s.V1Service>;
  log: string[];
  errors: unknown[];
  names: () => string[];
}

async function harness(options: KubeApiServerOptions = {}, seed: string[] = []): Promise<Harness> {
  const server = await KubeApiServer.start(options);
  for (const n of seed) server.upsert(svc(n));
  const kc = server.kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const log: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (o) => log.push(`add ${o.metadata?.name ?? ''}`));
  informer.on('update', (o) => log.push(`update ${o.metadata?.name ?? ''}`));
  informer.on('delete', (o) => log.push(`delete ${o.metadata?.name ?? ''}`));
  informer.on('error', (e) => errors.push(e));
  after(async () => {
    await informer.stop();
    await server.close();
  });
  return {
    server,
    informer,
    log,
    errors,
    names: () => informer.list().map((o) => o.metadata?.name ?? '').sort(),
  };
}

function svc(name: string, labels: Record<string, string> = {}): k8s.KubernetesObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', labels } };
}

function ref(name: string): { apiVersion: string; kind: string; namespace: string; name: string } {
  return { apiVersion: 'v1', kind: 'Service', namespace: 'default', name };
}

describe('informer', () => {
  it('lists, then watches from the list RV, and tracks adds, updates and deletes', async () => {
    const h = await harness({}, ['a', 'b']);
    await h.informer.start();
    assert.deepEqual(h.names(), ['a', 'b']);
    await h.server.waitForWatches(1, { resource: 'services' });
    h.server.upsert(svc('c'));
    h.server.upsert(svc('a', { v: '2' }));
    h.server.remove(ref('b'));
    await eventually('cache follows', () => h.names().join() === 'a,c' && h.log.length === 5);
    assert.deepEqual(h.log, ['add a', 'add b', 'add c', 'update a', 'delete b']);
    assert.equal(h.informer.get('a', 'default')?.metadata?.labels?.['v'], '2');
    // What client-node asks for: a plain list, then watch=true&resourceVersion=<list RV>.
    const reqs = h.server.requests({ resource: 'services' });
    assert.equal(reqs[0]?.verb, 'list');
    assert.deepEqual(reqs[0]?.query, {});
    assert.equal(reqs[1]?.verb, 'watch');
    assert.deepEqual(Object.keys(reqs[1]?.query ?? {}).sort(), ['resourceVersion', 'watch']);
    assert.deepEqual(h.errors, []);
  });

  it('re-watches from its last RV (no relist) when a watch is closed cleanly', async () => {
    const h = await harness({}, ['a']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    h.server.upsert(svc('b'));
    await eventually('b seen', () => h.names().includes('b'));
    const lastRv = h.server.resourceVersion;
    assert.equal(h.server.dropWatches(), 1);
    await h.server.waitForWatches(1);
    h.server.upsert(svc('c'));
    await eventually('c seen after re-watch', () => h.names().includes('c'));
    const reqs = h.server.requests({ resource: 'services' });
    assert.deepEqual(reqs.map((r) => r.verb), ['list', 'watch', 'watch']);
    assert.equal(reqs[2]?.query['resourceVersion'], lastRv);
    assert.deepEqual(h.errors, []);
  });

  it('relists after an ERROR 410 event and ends with the right cache (missed changes included)', async () => {
    const h = await harness({}, ['a', 'b']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    // Hold the re-watch in flight, change state and compact meanwhile, so the
    // informer's RV is gone when its watch request is served.
    const release = h.server.holdRequests({ watch: true });
    h.server.dropWatches();
    await eventually('re-watch arrived', () => h.server.requests({ verb: 'watch' }).length === 2);
    h.server.remove(ref('a'));
    h.server.upsert(svc('c'));
    h.server.upsert(svc('b', { v: '2' }));
    h.server.compact();
    release();
    await eventually('relisted cache', () => h.names().join() === 'b,c' && h.informer.get('b', 'default')?.metadata?.labels?.['v'] === '2');
    await h.server.waitForWatches(1);
    assert.deepEqual(h.server.requests({ resource: 'services' }).map((r) => r.verb), ['list', 'watch', 'watch', 'list', 'watch']);
    assert.ok(h.log.includes('delete a'), 'the relist reports the object it missed as deleted');
    assert.deepEqual(h.errors, []);
  });

  it('relists after an HTTP 410 on watch too', async () => {
    const h = await harness({ watchGoneAsHttpStatus: true }, ['a']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    const release = h.server.holdRequests({ watch: true });
    h.server.dropWatches();
    await eventually('re-watch arrived', () => h.server.requests({ verb: 'watch' }).length === 2);
    h.server.upsert(svc('z'));
    h.server.compact();
    release();
    await eventually('relisted', () => h.names().join() === 'a,z');
    assert.equal(h.server.requests({ verb: 'list' }).length, 2);
    assert.deepEqual(h.errors, []);
  });

  it('relists when open watches are expired by compaction', async () => {
    const h = await harness({}, ['a']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    h.server.compact({ expireWatches: true });
    await eventually('second list', () => h.server.requests({ verb: 'list' }).length === 2);
    await h.server.waitForWatches(1);
    h.server.upsert(svc('b'));
    await eventually('watching again', () => h.names().join() === 'a,b');
    assert.deepEqual(h.errors, []);
  });

  it('reports an HTTP 500 on re-watch as an error and stops; a restart recovers', async () => {
    const h = await harness({}, ['a']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    h.server.failNext(1, { status: 500, match: { watch: true } });
    h.server.dropWatches();
    await eventually('error reported', () => h.errors.length === 1);
    assert.equal(statusCodeOf(h.errors[0]), 500);
    h.server.upsert(svc('missed'));
    // The informer is stopped for good: the application must restart it.
    await h.server.waitForWatches(0);
    assert.equal(h.server.watches().length, 0);
    await h.informer.start();
    await eventually('restarted informer catches up', () => h.names().join() === 'a,missed');
  });

  it('reports an abruptly reset watch as an error and stops', async () => {
    const h = await harness({}, ['a']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    h.server.dropWatches({ abrupt: true });
    await eventually('error reported', () => h.errors.length === 1);
    await h.server.waitForWatches(0);
  });

  it('survives an API outage: stop() cuts it off, start() on the same port lets a restarted informer resync', async () => {
    const h = await harness({}, ['a']);
    await h.informer.start();
    await h.server.waitForWatches(1);
    const port = h.server.port;
    await h.server.stop();
    await eventually('outage reported', () => h.errors.length >= 1);
    // Changes keep happening while the API is unreachable.
    h.server.upsert(svc('during-outage'));
    h.server.remove(ref('a'));
    const core = h.server.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await assert.rejects(core.listServiceForAllNamespaces());
    await h.server.start();
    assert.equal(h.server.port, port);
    await h.informer.start();
    await eventually('resynced', () => h.names().join() === 'during-outage');
  });
});
