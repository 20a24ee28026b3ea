/**
 * The status page in a real browser: headless Chromium (Debian's package) driven by
 * playwright-core, against the real `meridian serve` on the two-clusters example. It loads
 * without a console error, shows the clusters, services and a connected proxy, shows a node id
 * full of markup as text, and follows a manifest change (an endpoint going unready) without a
 * reload. `UPDATE_SCREENSHOTS=1` also writes docs/images/status-page.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, chromiumPath, RealPeer, realPeersMissing, TypeUrls } from '@meridian/testkit';
import type { Browser, Page } from 'playwright-core';
import { MeridianProcess, REPO_ROOT, TWO_CLUSTERS, Workspace } from '../support/meridian-process.ts';

const skip = realPeersMissing([RealPeer.Chromium]);
const ECHO = 'echo.demo.svc.cluster.local';
const SIDECAR = 'sidecar~127.0.0.50~web-0.demo~demo.svc.cluster.local';
// What a hostile client could claim as its node id: it must show as text and never run.
const HOSTILE = `<img src=x onerror="window.__owned=1">"><script>window.__owned=2</script>`;

describe('status page in Chromium', { skip }, () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const clients: AdsTestClient[] = [];

  before(async () => {
    ws.copyExample('two-clusters');
    const config = ws.writeConfig({
      clusters: TWO_CLUSTERS,
      // Only drawn here: nothing sends traffic to it.
      networks: { 'net-west': { gateways: [{ address: '127.0.0.99', port: 15443 }] } },
    });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    for (const id of [SIDECAR, HOSTILE]) {
      const client = AdsTestClient.connect(meridian.xdsAddress, { id, metadata: { CLUSTER_ID: 'east' }, locality: { region: 'us-east', zone: 'us-east-1a' } });
      clients.push(client);
      await client.requestAck(TypeUrls.Endpoint, [`outbound|7070||${ECHO}`]);
    }
    const { chromium } = await import('playwright-core');
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; containers
    // often have a small /dev/shm, which crashes Chromium's renderers without the flag.
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Tests running beside this one create and delete network interfaces (the netns test bed);
    // Chromium then aborts requests in flight with ERR_NETWORK_CHANGED, and the page's next
    // poll asks again. That is the machine, not the page: it is not counted as a problem.
    const networkChanged = (text: string) => text.includes('net::ERR_NETWORK_CHANGED');
    page.on('console', (m) => m.type() === 'error' && !networkChanged(m.text()) && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      const reason = r.failure()?.errorText ?? '';
      if (!networkChanged(reason)) problems.push(`request failed: ${r.url()} ${reason}`.trimEnd());
    });
  });
  after(async () => {
    await browser?.close();
    for (const c of clients) c.close();
    await meridian?.stop();
    ws.remove();
  });

  it('loads with no console error and shows clusters, services, the proxy and the push timeline', async () => {
    const res = await page.goto(`http://${meridian.httpAddress}/`);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.locator('[data-cluster="east"][data-state="Synced"]').waitFor();
    await page.locator('[data-cluster="west"][data-state="Synced"]').waitFor();
    for (const host of [ECHO, 'hello.demo.svc.cluster.local']) await page.locator(`[data-service="${host}"]`).waitFor();
    await page.locator(`[data-node="${SIDECAR}"]`).waitFor();
    assert.match(await page.locator('#summary').innerText(), /ready/);
    assert.match(await page.locator('#pushes').innerText(), /full/);
    assert.equal(await page.locator('#topology svg').count(), 1);
    assert.match(await page.locator('#topology').textContent() ?? '', /east · Synced.*west · Synced.*gateway 127\.0\.0\.99:15443/s);
    assert.deepEqual(problems, []);
  });

  it('shows a node id full of markup as text, never as markup', async () => {
    const row = page.locator('#proxies tr[data-node]').filter({ hasText: 'onerror' });
    await row.waitFor();
    assert.equal(await row.locator('td').first().textContent(), HOSTILE);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __owned?: number }).__owned), undefined);
    assert.equal(await page.locator('#proxies img, #proxies script').count(), 0);
    // Gone from the page once it disconnects (and from the screenshot for the docs).
    clients.pop()?.close();
    await row.waitFor({ state: 'detached' });
  });

  it('filters proxies by cluster, type and state', async () => {
    const rows = page.locator('#proxies tr[data-node]');
    await page.selectOption('#proxy-state', 'NACKED');
    await page.getByText('no proxy matches the filters').waitFor();
    await page.selectOption('#proxy-state', '');
    await page.selectOption('#proxy-type', 'sidecar');
    await rows.first().waitFor();
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-node'))), [SIDECAR]);
    await page.selectOption('#proxy-type', '');
  });

  it('explains endpoints as seen from a chosen proxy', async () => {
    const connection = (await meridian.getJson<{ proxies: Array<{ connection: string }> }>(`/debug/syncz?proxy=${encodeURIComponent(SIDECAR)}`)).body.proxies[0]?.connection ?? '';
    await page.selectOption('#seen-from', connection);
    const echo = page.locator(`[data-service="${ECHO}"]`);
    await echo.locator('summary').click();
    await echo.getByText(`as seen from ${SIDECAR}`).waitFor();
    // The sidecar is in us-east/us-east-1a: the east endpoint is its first choice.
    assert.equal(await echo.locator('tr[data-endpoint="127.0.0.11:17070"]').getAttribute('data-priority'), '0');
    await page.selectOption('#seen-from', '');
    await echo.locator('tr[data-endpoint="127.0.0.11:17070"][data-health]').waitFor();
  });

  it('shows an endpoint going unready without a reload, and writes the screenshot', async () => {
    await page.evaluate(() => ((globalThis as unknown as { __sameDocument?: boolean }).__sameDocument = true));
    const east = page.locator('[data-endpoint="127.0.0.11:17070"]');
    assert.equal(await east.getAttribute('data-health'), 'healthy');
    const file = ws.path('east/echo.yaml');
    ws.write('east/echo.yaml', readFileSync(file, 'utf8').replace('ready: true', 'ready: false'));
    await page.locator('[data-endpoint="127.0.0.11:17070"][data-health="unhealthy"]').waitFor({ timeout: 15_000 });
    await page.locator(`[data-service="${ECHO}"] summary`).getByText('1/2 healthy').waitFor();
    // The sidecar was sent the change; once it ACKs, its row turns from STALE to SYNCED.
    const sidecar = clients[0] as AdsTestClient;
    const pushed = await sidecar.next(15_000);
    await page.locator(`[data-node="${SIDECAR}"][data-state="STALE"]`).waitFor();
    sidecar.ack(pushed, [`outbound|7070||${ECHO}`]);
    await page.locator(`[data-node="${SIDECAR}"][data-state="SYNCED"]`).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument), true, 'no reload');

    const shot = path.join(ws.dir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'a real picture');
    if (process.env['UPDATE_SCREENSHOTS'] === '1') {
      mkdirSync(path.join(REPO_ROOT, 'docs/images'), { recursive: true });
      await page.screenshot({ path: path.join(REPO_ROOT, 'docs/images/status-page.png'), fullPage: true });
    }
    assert.deepEqual(problems, []);
  });

  it("shows a broken manifest in its cluster's errors as file:line", async () => {
    ws.write('west/broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\n  namespace: demo\nspec:\n  ports: [\n');
    const west = page.locator('[data-cluster="west"]');
    await west.getByText(/^broken\.yaml:8: .*line 8/).waitFor({ timeout: 15_000 });
    assert.match(await page.locator('#topology').textContent() ?? '', /network net-west · 1 error/);
    assert.deepEqual(problems, []);
  });

  it('lists a service the clusters disagree on under conflicts', async () => {
    const file = ws.path('west/echo.yaml');
    ws.write('west/echo.yaml', readFileSync(file, 'utf8').replace('targetPort: 17070', 'targetPort: 17071'));
    const row = page.locator('#conflicts tr').filter({ hasText: ECHO });
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), /targetPort\s+east=17070, west=17071\s+east/);
    assert.deepEqual(problems, []);
  });

  it('draws at most 200 services and says how many there are', async () => {
    const many = Array.from({ length: 210 }, (_, i) => `apiVersion: v1\nkind: Service\nmetadata: {name: bulk-${i}, namespace: demo}\nspec:\n  ports: [{port: 80}]\n`);
    ws.write('west/many.yaml', many.join('---\n'));
    await page.getByText(/^showing 200 of 21\d; the rest are in \/debug\/registryz$/).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('details[data-service]').count(), 200);
    assert.deepEqual(problems, []);
  });

  it('says when Meridian cannot be read, and keeps showing what it last knew', async () => {
    await meridian.stop();
    await page.locator('#freshness.stale').getByText(/cannot read Meridian .*showing data from/).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('[data-cluster="east"]').count(), 1);
    assert.equal(problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to fetch|request failed/.test(p)).length, 0, problems.join('\n'));
  });
});
