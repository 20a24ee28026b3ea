/**
 * Property test over debug query strings, against the real `meridian serve`: any query to
 * any /debug view — known and unknown parameters, repeated ones, odd encodings, huge values
 * — is answered 200, or refused 400/404/409 in the one error shape, never 500; and the
 * server keeps answering.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const REFUSALS = new Set([400, 404, 409]);

describe('/debug views take any query string without a server fault', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let base = '';
  let views: string[] = [];

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeFileSync(ws.path('c1', 'echo.yaml'), yamlDocs(service('echo', 'demo', [{ name: 'grpc', port: 7070 }]), endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 7070 }, [{ address: '10.0.0.1' }])));
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    base = `http://${meridian.httpAddress}`;
    views = (await meridian.getJson<{ endpoints: string[] }>('/debug')).body.endpoints;
    assert.ok(views.length > 5, views.join());
  });

  after(async () => {
    await meridian?.stop();
    ws.remove();
  });

  it('any query to any view: 200, or 400/404/409 with {error, code}; never 500', async () => {
    const key = fc.oneof(fc.constantFrom('service', 'proxy', 'cluster', 'network', 'locality', 'limit', 'continue', 'offset', 'level', 'format'), fc.string({ maxLength: 12 }));
    const value = fc.oneof(
      fc.constantFrom('', 'echo.demo.svc.cluster.local', 'c1', '0', '-1', '1e9', '99999999999', 'a/b/c/d', '%', '%zz', '../../etc/passwd', '<script>'),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.nat({ max: 3000 }).map((n) => 'x'.repeat(n)),
    );
    const query = fc.array(fc.tuple(key, value), { maxLength: 5 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
    const rawTail = fc.constantFrom('', '&', '&&', '=', '==x', '%', '%E0%A4%A', '?x', '#frag');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...views), query, rawTail, async (view, q, tail) => {
        const res = await fetch(`${base}${view}?${q}${tail}`);
        const text = await res.text();
        assert.ok(res.status === 200 || REFUSALS.has(res.status), `${view}?${q}${tail}: ${res.status} ${text.slice(0, 300)}`);
        if (res.status !== 200) {
          const body = JSON.parse(text) as { error?: unknown; code?: unknown };
          assert.equal(typeof body.error, 'string');
          assert.match(String(body.code), /^HTTP_ERR_/);
        }
      }),
      { numRuns: 300 },
    );
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
  });
});
