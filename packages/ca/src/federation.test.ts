import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createAuthority } from './authority.ts';
import { createSelfSignedRoot, type CaCertificate } from './ca-certificates.ts';
import { BundleFetcher, parseSpiffeBundle, refreshDelaySeconds, type BundleTransport } from './federation.ts';
import { SvidSigner } from './signer.ts';
import { spiffeBundle } from './trust-bundle.ts';

describe('parseSpiffeBundle', () => {
  let rootA: CaCertificate;
  let rootB: CaCertificate;
  let leafDer: Buffer;

  before(async () => {
    rootA = await createSelfSignedRoot({ trustDomain: 'other.test' });
    rootB = await createSelfSignedRoot({ trustDomain: 'other.test' });
    const signer = new SvidSigner({ trustDomain: 'other.test', authority: createAuthority({ certDer: rootA.certDer, key: rootA.key }) });
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    leafDer = (await signer.signServingCertificate({ publicKey, dnsNames: ['x.test'] })).leafDer;
  });

  const key = (der: Uint8Array, use = 'x509-svid') => ({ use, kty: 'EC', x5c: [Buffer.from(der).toString('base64')] });

  it('accepts our own publisher output, with hint and sequence', () => {
    const r = parseSpiffeBundle(JSON.stringify(spiffeBundle({ rootsDer: [rootA.certDer, rootB.certDer], refreshHintSeconds: 60, sequence: 3 })));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.bundle.rootsDer, [rootA.certDer, rootB.certDer]);
    assert.equal(r.bundle.refreshHintSeconds, 60);
    assert.equal(r.bundle.sequence, 3);
  });

  it('skips keys of other uses and removes duplicate authorities', () => {
    const r = parseSpiffeBundle(JSON.stringify({ keys: [{ use: 'jwt-svid', kty: 'EC', kid: 'k' }, key(rootA.certDer), key(rootA.certDer)] }));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.bundle.rootsDer.length, 1);
    assert.equal(r.bundle.sequence, undefined);
    assert.equal(r.bundle.refreshHintSeconds, undefined);
  });

  const cases: Array<{ name: string; doc: () => string; error: RegExp }> = [
    { name: 'bad JSON', doc: () => '{"keys": [', error: /not JSON/ },
    { name: 'not an object', doc: () => '[]', error: /not a JSON object/ },
    { name: 'no keys array', doc: () => '{"spiffe_sequence": 1}', error: /^keys: missing/ },
    { name: 'no x509-svid keys', doc: () => JSON.stringify({ keys: [{ use: 'jwt-svid', kty: 'EC' }] }), error: /no key with use "x509-svid"/ },
    { name: 'wrong use only (x509 is not x509-svid)', doc: () => JSON.stringify({ keys: [key(rootA.certDer, 'x509')] }), error: /no key with use "x509-svid"/ },
    { name: 'key without use', doc: () => JSON.stringify({ keys: [{ kty: 'EC', x5c: key(rootA.certDer).x5c }] }), error: /no key with use "x509-svid"/ },
    { name: 'non-CA certificate', doc: () => JSON.stringify({ keys: [key(rootA.certDer), key(leafDer)] }), error: /keys\[1\]\.x5c\[0\]: .* is not a CA certificate/ },
    { name: 'two certificates in x5c', doc: () => JSON.stringify({ keys: [{ ...key(rootA.certDer), x5c: [key(rootA.certDer).x5c[0], key(rootB.certDer).x5c[0]] }] }), error: /keys\[0\]\.x5c: must hold exactly one/ },
    { name: 'x5c missing', doc: () => JSON.stringify({ keys: [{ use: 'x509-svid', kty: 'EC' }] }), error: /keys\[0\]\.x5c: must hold exactly one/ },
    { name: 'base64url in x5c', doc: () => JSON.stringify({ keys: [{ use: 'x509-svid', kty: 'EC', x5c: ['ab-_'] }] }), error: /not base64/ },
    { name: 'garbage certificate', doc: () => JSON.stringify({ keys: [{ use: 'x509-svid', kty: 'EC', x5c: ['AAAA'] }] }), error: /not an X\.509 certificate/ },
    { name: 'key not an object', doc: () => JSON.stringify({ keys: [key(rootA.certDer), 'x'] }), error: /keys\[1\]: not an object/ },
    { name: 'negative refresh hint', doc: () => JSON.stringify({ keys: [key(rootA.certDer)], spiffe_refresh_hint: -5 }), error: /spiffe_refresh_hint/ },
    { name: 'fractional sequence', doc: () => JSON.stringify({ keys: [key(rootA.certDer)], spiffe_sequence: 1.5 }), error: /spiffe_sequence/ },
  ];
  for (const c of cases) {
    it(`rejects: ${c.name}`, () => {
      const r = parseSpiffeBundle(c.doc());
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.errors.some((e) => c.error.test(e)), `${c.name}: ${JSON.stringify(r)}`);
    });
  }
});

describe('refreshDelaySeconds', () => {
  const table: Array<[hint: number | undefined, configured: number | undefined, want: number]> = [
    [undefined, undefined, 300],
    [undefined, 120, 120],
    [60, undefined, 60],
    [5, undefined, 30],
    [86_400, undefined, 3600],
    [1, 1, 1],
    [0.2, 1, 1],
    [5, 10, 10],
    [1, 600, 30],
    [undefined, 7200, 3600],
  ];
  for (const [hint, configured, want] of table) {
    it(`hint ${String(hint)}, configured ${String(configured)} → ${want}`, () => assert.equal(refreshDelaySeconds(hint, configured), want));
  }
});

describe('BundleFetcher', () => {
  it('keeps the last good bundle when a fetch fails, and clears the error on the next success', async () => {
    const a = await createSelfSignedRoot({ trustDomain: 'other.test' });
    const b = await createSelfSignedRoot({ trustDomain: 'other.test' });
    let next: () => string = () => JSON.stringify(spiffeBundle({ rootsDer: [a.certDer], sequence: 1 }));
    const urls: string[] = [];
    const transport: BundleTransport = async (url) => {
      urls.push(url.href);
      return next();
    };
    let now = 1_000_000;
    const f = new BundleFetcher({ trustDomain: 'other.test', endpoint: 'https://peer.test/bundle', transport, clock: () => now });
    try {
      await f.start();
      assert.deepEqual(f.state.roots, [a.certDer]);
      assert.equal(f.state.sequence, 1);
      assert.equal(f.state.fetchedAt?.getTime(), 1_000_000);
      assert.equal(f.state.nextRefreshAt?.getTime(), 1_000_000 + 300_000);

      now += 1000;
      next = () => {
        throw new Error('connection refused');
      };
      await f.refresh();
      assert.deepEqual(f.state.roots, [a.certDer], 'last good bundle kept');
      assert.equal(f.state.lastError?.message, 'connection refused');
      assert.equal(f.state.lastError.at.getTime(), 1_001_000);
      assert.equal(f.state.nextRefreshAt?.getTime(), 1_001_000 + 30_000, 'retries sooner after a failure');

      next = () => '{"keys": []}';
      await f.refresh();
      assert.deepEqual(f.state.roots, [a.certDer], 'an invalid bundle does not replace a good one');
      assert.match(f.state.lastError?.message ?? '', /no key with use/);

      now += 1000;
      next = () => JSON.stringify(spiffeBundle({ rootsDer: [b.certDer, a.certDer], sequence: 2, refreshHintSeconds: 45 }));
      await f.refresh();
      assert.deepEqual(f.state.roots, [b.certDer, a.certDer]);
      assert.equal(f.state.sequence, 2);
      assert.equal(f.state.lastError, undefined);
      assert.equal(f.state.nextRefreshAt?.getTime(), now + 45_000, 'the publisher hint is honoured');
      assert.deepEqual(new Set(urls), new Set(['https://peer.test/bundle']));
    } finally {
      f.stop();
    }
  });

  it('records an unreadable caFile as a fetch error instead of throwing', async () => {
    const f = new BundleFetcher({
      trustDomain: 'other.test',
      endpoint: 'https://peer.test/bundle',
      caFile: '/nonexistent/ca.pem',
      transport: async () => assert.fail('must not fetch without its CA'),
    });
    await f.start();
    f.stop();
    assert.match(f.state.lastError?.message ?? '', /ENOENT/);
    assert.deepEqual(f.state.roots, []);
  });

  it('joins concurrent refreshes into one fetch', async () => {
    const root = await createSelfSignedRoot({ trustDomain: 'other.test' });
    let calls = 0;
    const f = new BundleFetcher({
      trustDomain: 'other.test',
      endpoint: 'https://peer.test/bundle',
      transport: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        return JSON.stringify(spiffeBundle({ rootsDer: [root.certDer] }));
      },
    });
    await Promise.all([f.start(), f.refresh(), f.refresh()]);
    f.stop();
    assert.equal(calls, 1);
  });
});
