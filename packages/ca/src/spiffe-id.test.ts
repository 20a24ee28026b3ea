import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CaError, CaErrorCode } from './errors.ts';
import { parseSpiffeId, parseWorkloadId, workloadSpiffeId } from './spiffe-id.ts';

describe('SPIFFE ID syntax', () => {
  for (const ok of ['spiffe://cluster.local/ns/default/sa/web', 'spiffe://example.org', 'spiffe://a-b_c.d/x/Y.z-_']) {
    it(`accepts ${ok}`, () => assert.equal(parseSpiffeId(ok).ok, true));
  }
  const bad: Array<[string, RegExp]> = [
    ['SPIFFE://cluster.local/ns/a/sa/b', /scheme/],
    ['spiffe:///ns/a/sa/b', /trust domain is empty/],
    ['spiffe://Cluster.local/ns/a/sa/b', /lowercase/],
    ['spiffe://user@cluster.local/ns/a', /userinfo/],
    ['spiffe://cluster.local:8443/ns/a', /port/],
    ['spiffe://cluster.local/ns/a?x=1', /query/],
    ['spiffe://cluster.local/ns/a#frag', /fragment/],
    ['spiffe://cluster.local/ns//sa/b', /empty/],
    ['spiffe://cluster.local/ns/a/', /empty/],
    ['spiffe://cluster.local/ns/./sa', /"\."/],
    ['spiffe://cluster.local/ns/../sa', /"\."/],
    ['spiffe://cluster.local/ns/a%20b', /characters/],
    [`spiffe://cluster.local/${'a'.repeat(2100)}`, /longer/],
  ];
  for (const [id, why] of bad) {
    it(`rejects ${id.slice(0, 50)}`, () => {
      const r = parseSpiffeId(id);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, why);
    });
  }

  it('parses the workload shape and checks the trust domain', () => {
    assert.deepEqual(parseWorkloadId('spiffe://td/ns/n/sa/s', 'td'), { uri: 'spiffe://td/ns/n/sa/s', trustDomain: 'td', namespace: 'n', serviceAccount: 's' });
    for (const [id, td] of [['spiffe://td/ns/n/sa/s', 'other'], ['spiffe://td/ns/n', 'td'], ['spiffe://td/ns/n/sa/s/x', 'td'], ['spiffe://td/sa/s/ns/n', 'td']] as const) {
      assert.throws(() => parseWorkloadId(id, td), (err: unknown) => err instanceof CaError && err.code === CaErrorCode.San);
    }
    assert.equal(workloadSpiffeId('td', 'n', 's'), 'spiffe://td/ns/n/sa/s');
  });
});
