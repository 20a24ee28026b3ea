import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { StreamTracker } from './drain.ts';

/** Registers a fake streaming method through the tracker and opens `n` calls on it. */
function openStreams(tracker: StreamTracker, n: number): Array<EventEmitter & { status?: { code: number } }> {
  let handler: ((call: EventEmitter) => void) | undefined;
  const server = { addService: (_def: unknown, impl: Record<string, (call: EventEmitter) => void>) => (handler = impl['Stream']) } as unknown as grpc.Server;
  tracker.track(server).addService({ Stream: { responseStream: true } } as unknown as grpc.ServiceDefinition, { Stream: () => undefined });
  return Array.from({ length: n }, () => {
    const call = new EventEmitter() as EventEmitter & { status?: { code: number } };
    call.on('error', (status: { code: number }) => (call.status = status));
    handler?.(call);
    return call;
  });
}

describe('StreamTracker.drain', () => {
  it('ends every stream with UNAVAILABLE at its random moment within the window', async () => {
    const tracker = new StreamTracker();
    const calls = openStreams(tracker, 10);
    assert.equal(tracker.size, 10);
    const order: number[] = [];
    calls.forEach((c, i) => c.on('error', () => order.push(i)));
    // Reverse order of draws: the last stream opened is told first.
    const draws = calls.map((_, i) => (calls.length - 1 - i) / calls.length);
    const started = performance.now();
    const drained = await tracker.drain({ drainMs: 100, random: () => draws.shift() ?? 0 });
    const elapsed = performance.now() - started;
    assert.equal(drained, 10);
    assert.deepEqual(order, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    assert.ok(calls.every((c) => c.status?.code === grpc.status.UNAVAILABLE));
    assert.ok(elapsed >= 85 && elapsed < 1000, `spread over the 100 ms window (${Math.round(elapsed)} ms)`);
    assert.equal(tracker.size, 0);
  });

  it('does not spread a handful of streams over the whole drain period', async () => {
    const tracker = new StreamTracker();
    openStreams(tracker, 2);
    const started = performance.now();
    await tracker.drain({ drainMs: 60_000, random: () => 0.99 });
    assert.ok(performance.now() - started < 500, '20 ms per stream at most');
  });

  it('forgets streams that closed by themselves', async () => {
    const tracker = new StreamTracker();
    const [first, second] = openStreams(tracker, 2);
    first?.emit('close');
    second?.emit('cancelled');
    assert.equal(tracker.size, 0);
    assert.equal(await tracker.drain({ drainMs: 1000 }), 0);
  });
});
