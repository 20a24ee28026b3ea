export interface RateLimitOptions {
  /** Tokens added per `intervalMs`. Default 10. */
  readonly refill?: number;
  /** Default 10 s. */
  readonly intervalMs?: number;
  /** Bucket size: requests allowed at once after a quiet period. Default 20. */
  readonly burst?: number;
  /** Buckets kept before full (idle) ones are forgotten. Default 10 000. */
  readonly maxKeys?: number;
  readonly clock?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per key (here: per workload identity). */
export class KeyedRateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    const refill = options.refill ?? 10;
    const intervalMs = options.intervalMs ?? 10_000;
    this.#burst = options.burst ?? 20;
    if (!(refill > 0 && intervalMs > 0 && this.#burst >= 1)) {
      throw new RangeError(`invalid rate limit: ${refill} per ${intervalMs} ms, burst ${this.#burst}`);
    }
    this.#perMs = refill / intervalMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  tryTake(key: string): boolean {
    const now = this.#clock();
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
    b.at = now;
    if (b.tokens < 1) {
      this.#buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.#maxKeys) this.#sweep(now);
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }

  // A bucket that has refilled is indistinguishable from a new one, so dropping it is free.
  // If that is not enough, the oldest go: memory stays bounded at the cost of a fresh burst.
  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys * 0.9) break;
      this.#buckets.delete(key);
    }
  }
}
