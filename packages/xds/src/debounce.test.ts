import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, hostnameKeys, type PushRequest } from '@meridian/model';
import { debounce, type Clock } from './debounce.ts';

/** A clock the test moves by hand; timers fire in order when their time comes. */
class FakeClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = until;
  }
}

const eds = (...hosts: string[]): PushRequest => ({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, hosts), reasons: ['eds'] });
const full = (...hosts: string[]): PushRequest => ({ kind: 'full', configs: hostnameKeys(ConfigKind.Service, hosts), reasons: ['svc'] });

function setup(quietMs = 100, maxMs = 1000) {
  const clock = new FakeClock();
  const pushed: PushRequest[] = [];
  const d = debounce({ quietMs, maxMs }, (r) => pushed.push(r), clock);
  return { clock, pushed, d };
}

describe('debounce', () => {
  it('pushes once after the quiet period, merging what came before', () => {
    const { clock, pushed, d } = setup();
    d.add(eds('a'));
    clock.advance(50);
    d.add(eds('b'));
    clock.advance(99);
    assert.equal(pushed.length, 0, 'quiet period restarts on each change');
    clock.advance(1);
    assert.equal(pushed.length, 1);
    assert.deepEqual((pushed[0]?.configs ?? []).map((k) => k.name).sort(), ['a', 'b']);
    assert.equal(pushed[0]?.kind, 'endpoints');
    assert.equal(pushed[0]?.since, 0, 'since is the time of the first change');
  });

  it('never holds changes longer than maxMs under a steady stream', () => {
    const { clock, pushed, d } = setup(100, 300);
    for (let i = 0; i < 10; i++) {
      d.add(eds(`h${i}`));
      clock.advance(50);
    }
    assert.ok(pushed.length >= 1, 'pushed before the stream stopped');
    assert.ok((pushed[0]?.configs.length ?? 0) <= 7);
  });

  it('a full request absorbs endpoint requests; an empty full set means everything', () => {
    const { clock, pushed, d } = setup();
    d.add(eds('a'));
    d.add(full('b'));
    d.add(full());
    clock.advance(100);
    assert.equal(pushed[0]?.kind, 'full');
    assert.equal(pushed[0]?.configs.length, 0);
  });

  it('quietMs 0 pushes at once', () => {
    const { pushed, d } = setup(0, 0);
    d.add(eds('a'));
    assert.equal(pushed.length, 1);
  });

  it('stop drops what is pending and ignores later changes', () => {
    const { clock, pushed, d } = setup();
    d.add(eds('a'));
    d.stop();
    d.add(eds('b'));
    clock.advance(5000);
    assert.equal(pushed.length, 0);
  });

  it('flush pushes what is pending immediately', () => {
    const { pushed, d } = setup();
    d.add(full('x'));
    d.flush();
    assert.equal(pushed.length, 1);
    assert.equal(d.pending, undefined);
  });
});
