import { hash } from 'node:crypto';

/**
 * An order-independent digest of a set of (name, version) pairs, kept up to date as pairs
 * come and go: the XOR of each pair's hash. Equal sets give equal digests on every replica,
 * and a change costs the changed pairs only. A delta stream's version is this digest of what
 * the client has, read on every response; sorting and hashing the whole set each time cost a
 * push to a thousand wildcard streams a sort of a thousand names per stream.
 */
export class SetDigest {
  private readonly acc = new Uint8Array(DIGEST_BYTES);
  private size = 0;

  add(pair: Uint8Array): void {
    this.toggle(pair);
    this.size++;
  }

  remove(pair: Uint8Array): void {
    this.toggle(pair);
    this.size--;
  }

  /** The set's size keeps sets whose pairs cancel out apart from the empty set. */
  toString(): string {
    return `${this.size.toString(36)}.${Buffer.from(this.acc.buffer, this.acc.byteOffset, DIGEST_BYTES).toString('base64url')}`;
  }

  private toggle(pair: Uint8Array): void {
    for (let i = 0; i < DIGEST_BYTES; i++) this.acc[i] = (this.acc[i] ?? 0) ^ (pair[i] ?? 0);
  }
}

const DIGEST_BYTES = 16;

/** One pair's share of a `SetDigest`. */
export function pairDigest(name: string, version: string): Uint8Array {
  return hash('sha256', `${name}\0${version}`, 'buffer').subarray(0, DIGEST_BYTES);
}

const resourceDigests = new WeakMap<{ readonly name: string; readonly version: string }, Uint8Array>();

/** `pairDigest` of a resource object, computed once while the object lives (proxies share them). */
export function resourceDigest(r: { readonly name: string; readonly version: string }): Uint8Array {
  let d = resourceDigests.get(r);
  if (!d) resourceDigests.set(r, (d = pairDigest(r.name, r.version)));
  return d;
}
