// The HTTP port as a caller sees it: a repeated query parameter is the caller's mistake (400
// naming it), never a view misreading an array (it used to answer 500 with a TypeError).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@meridian/model';
import { startHttp } from './http.ts';
import { createMetrics } from './metrics.ts';

describe('HTTP views and query parameters', () => {
  let base = '';
  let close: () => Promise<void> = async () => undefined;
  const seen: Array<Record<string, string>> = [];
  before(async () => {
    const { app, port } = await startHttp({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger(),
      metrics: createMetrics(),
      views: {
        ready: () => ({ ready: true, detail: {} }),
        files: { '/trust-bundle': { contentType: 'text/plain', body: (q) => `bundle for ${q.format ?? 'pem'}` } },
        debug: { registryz: (q) => (seen.push(q), { service: q.service.toUpperCase() }) },
      },
    });
    base = `http://127.0.0.1:${port}`;
    close = () => app.close();
  });
  after(() => close());

  it('answers a debug view with its single-valued parameters', async () => {
    const res = await fetch(`${base}/debug/registryz?service=echo`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { service: 'ECHO' });
  });

  it('refuses a repeated parameter on a debug view with 400 naming it, without calling the view', async () => {
    const before = seen.length;
    const res = await fetch(`${base}/debug/registryz?service=a&service=b`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /"service" is given more than once/);
    assert.equal(seen.length, before);
  });

  it('refuses a repeated parameter on a document with 400 naming it', async () => {
    const res = await fetch(`${base}/trust-bundle?format=a&format=b`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /"format" is given more than once/);
    assert.equal((await fetch(`${base}/trust-bundle?format=pem`)).status, 200);
  });
});
