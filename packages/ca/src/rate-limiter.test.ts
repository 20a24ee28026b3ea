import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedRateLimiter } from './rate-limiter.ts';

describe('KeyedRateLimiter', () => {
  it('allows a burst, then the refill rate, per key', () => {
    let now = 0;
    const rl = new KeyedRateLimiter({ refill: 1, intervalMs: 1000, burst: 3, clock: () => now });
    assert.deepEqual([1, 2, 3, 4].map(() => rl.tryTake('a')), [true, true, true, false]);
    assert.equal(rl.tryTake('b'), true, 'another key has its own bucket');
    now = 999;
    assert.equal(rl.tryTake('a'), false);
    now = 1000;
    assert.equal(rl.tryTake('a'), true);
    now = 100_000;
    assert.deepEqual([1, 2, 3, 4].map(() => rl.tryTake('a')), [true, true, true, false], 'never more than the burst');
  });

  it('forgets idle buckets beyond maxKeys', () => {
    let now = 0;
    const rl = new KeyedRateLimiter({ refill: 1, intervalMs: 1000, burst: 2, maxKeys: 10, clock: () => now });
    for (let i = 0; i < 10; i++) rl.tryTake(`k${i}`);
    now = 10_000;
    rl.tryTake('new');
    assert.equal(rl.size, 1);
  });

  it('refuses nonsense settings', () => {
    assert.throws(() => new KeyedRateLimiter({ refill: 0 }), RangeError);
    assert.throws(() => new KeyedRateLimiter({ burst: 0 }), RangeError);
  });
});
