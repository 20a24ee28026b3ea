import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pairDigest, SetDigest } from './set-digest.ts';

const digestOf = (pairs: ReadonlyArray<readonly [string, string]>): string => {
  const d = new SetDigest();
  for (const [name, version] of pairs) d.add(pairDigest(name, version));
  return d.toString();
};

describe('SetDigest', () => {
  it('is the same for the same set in any order, and differs when a pair differs', () => {
    const pairs = fc.uniqueArray(fc.tuple(fc.string(), fc.string()), { selector: ([name]) => name, maxLength: 20 });
    fc.assert(
      fc.property(pairs, fc.nat(), (list, seed) => {
        const shuffled = [...list].sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7));
        assert.equal(digestOf(shuffled), digestOf(list));
        if (list.length > 0) {
          const changed = list.map(([n, v], i): [string, string] => (i === 0 ? [n, `${v}x`] : [n, v]));
          assert.notEqual(digestOf(changed), digestOf(list));
        }
      }),
    );
  });

  it('comes back to what it was when a pair is removed again, and tells the empty set from others', () => {
    const d = new SetDigest();
    const empty = d.toString();
    d.add(pairDigest('a', '1'));
    const justA = d.toString();
    d.add(pairDigest('b', '1'));
    d.remove(pairDigest('b', '1'));
    assert.equal(d.toString(), justA);
    d.remove(pairDigest('a', '1'));
    assert.equal(d.toString(), empty);
    assert.notEqual(justA, empty);
  });
});
