/**
 * /debug/registryz on a mesh too big for one answer, against the real `meridian serve`: a
 * page holds a bounded number of services and endpoints, following `page.continue` visits
 * every service exactly once, a service too big for a page is named with its count and paged
 * on its own, and the digest covers the whole mesh on every page.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

interface Page {
  digest: string;
  totals: { services: number; endpoints: number };
  services: Array<{ hostname: string; endpoints: unknown[] | null; endpointCount?: number; more?: string }>;
  page: { services?: number; shown: number; continue?: string | null; endpoints?: number; offset?: number; nextOffset?: number | null };
}

const SMALL = 250;
const PER_SMALL = 10;
const BIG = 5000;

/** `n` addresses in 10.x.y.z, distinct for distinct `base`. */
const addresses = (base: number, n: number) => Array.from({ length: n }, (_, i) => ({ address: `10.${base % 250}.${Math.floor(i / 250)}.${(i % 250) + 1}` }));

describe('/debug/registryz pages', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;

  before(async () => {
    mkdirSync(ws.path('c1'));
    const objects: object[] = [];
    for (let i = 0; i < SMALL; i++) {
      const name = `svc-${String(i).padStart(3, '0')}`;
      objects.push(service(name, 'demo', [{ name: 'http', port: 80 }]), endpointSlice(`${name}-1`, 'demo', name, { name: 'http', port: 8080 }, addresses(i, PER_SMALL)));
    }
    objects.push(service('big', 'demo', [{ name: 'http', port: 80 }]), endpointSlice('big-1', 'demo', 'big', { name: 'http', port: 8080 }, addresses(251, BIG)));
    writeFileSync(ws.path('c1', 'mesh.yaml'), yamlDocs(...objects));
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    await meridian?.stop();
    ws.remove();
  });

  const get = async (query: string) => {
    const res = await meridian.getJson<Page>(`/debug/registryz${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  it('pages hold a bounded number of services and endpoints; page.continue visits every service once', async () => {
    const seen: string[] = [];
    let digest: string | undefined;
    let query = '';
    for (let pages = 0; pages < 10; pages++) {
      const page = await get(query);
      assert.equal(page.totals.services, SMALL + 1);
      assert.equal(page.totals.endpoints, SMALL * PER_SMALL + BIG);
      digest ??= page.digest;
      assert.equal(page.digest, digest, 'every page carries the digest of the whole mesh');
      assert.ok(page.page.shown <= 100);
      const shownEndpoints = page.services.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0);
      assert.ok(shownEndpoints <= 2000, `${shownEndpoints} endpoints on one page`);
      seen.push(...page.services.map((s) => s.hostname));
      if (!page.page.continue) break;
      query = `?continue=${page.page.continue}`;
    }
    assert.equal(seen.length, SMALL + 1);
    assert.equal(new Set(seen).size, SMALL + 1);
    assert.deepEqual(seen, [...seen].sort());
  });

  it('a service bigger than a page is named with its count, and paged through on its own', async () => {
    const first = await get('?limit=1');
    const big = first.services.find((s) => s.hostname === 'big.demo.svc.cluster.local');
    assert.ok(big, 'big sorts first');
    assert.equal(big.endpoints, null);
    assert.equal(big.endpointCount, BIG);
    assert.equal(big.more, '/debug/registryz?service=big.demo.svc.cluster.local');
    const addressesSeen = new Set<string>();
    let offset: number | null | undefined = 0;
    for (let pages = 0; offset !== null && offset !== undefined && pages < 10; pages++) {
      const page = await get(`?service=big.demo.svc.cluster.local&offset=${offset}`);
      assert.equal(page.page.endpoints, BIG);
      for (const e of page.services[0]?.endpoints as Array<{ address: string }>) addressesSeen.add(e.address);
      offset = page.page.nextOffset;
    }
    assert.equal(addressesSeen.size, BIG);
  });

  it('bad paging parameters are refused, naming the parameter', async () => {
    for (const [query, parameter] of [['?limit=0', 'limit'], ['?offset=-1', 'offset'], ['?service=nope.demo.svc.cluster.local', 'service']] as const) {
      const res = await meridian.getJson<{ parameter?: string }>(`/debug/registryz${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.parameter, parameter);
    }
  });
});
