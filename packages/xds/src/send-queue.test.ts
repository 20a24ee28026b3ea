import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger, type PushRequest } from '@meridian/model';
import { SendQueue, type ResponseStream } from './send-queue.ts';
import { TypeUrl, type TypeUrl as TypeUrlT } from './type-url.ts';

/** A stream whose buffer is full after `capacity` writes until the test drains it. */
class FakeStream implements ResponseStream {
  written: Buffer[] = [];
  private drainListener: (() => void) | undefined;
  private capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  write(chunk: Buffer): boolean {
    this.written.push(chunk);
    return this.written.length < this.capacity;
  }
  once(_event: 'drain', listener: () => void): this {
    this.drainListener = listener;
    return this;
  }
  drain(more: number): void {
    this.capacity = this.written.length + more;
    const l = this.drainListener;
    this.drainListener = undefined;
    l?.();
  }
}

const push = (...hosts: string[]): PushRequest => ({ kind: 'endpoints', hostnames: new Set(hosts), reasons: ['t'] });

function setup(capacity: number) {
  const stream = new FakeStream(capacity);
  const sent: Array<{ type: TypeUrlT; hosts: string[] }> = [];
  let built = 0;
  const queue: SendQueue<Set<string>> = new SendQueue<Set<string>>({
    stream,
    logger: silentLogger(),
    merge: (into, from) => from.forEach((h) => into.add(h)),
    onPush: (p) => {
      queue.queue(TypeUrl.Endpoint, new Set(p.hostnames));
      queue.queue(TypeUrl.Cluster, new Set(p.hostnames));
    },
    send: (type, hosts) => {
      built++;
      sent.push({ type, hosts: [...hosts].sort() });
      queue.write(Buffer.from(type));
    },
  });
  return { stream, queue, sent, built: () => built };
}

describe('SendQueue', () => {
  it('sends in make-before-break order: clusters before endpoints', () => {
    const { queue, sent } = setup(100);
    queue.push(push('a'));
    assert.deepEqual(sent.map((s) => s.type), [TypeUrl.Cluster, TypeUrl.Endpoint]);
  });

  it('stops building while the stream does not drain, and merges everything meanwhile into one send per type', () => {
    const { stream, queue, sent, built } = setup(1);
    queue.push(push('a')); // CDS written, buffer full → EDS waits
    assert.equal(queue.isBlocked, true);
    for (let i = 0; i < 1000; i++) queue.push(push(`h${i}`));
    assert.equal(built(), 1, 'nothing more is built for a stuck proxy');
    assert.equal(stream.written.length, 1);
    stream.drain(100);
    assert.equal(queue.isBlocked, false);
    // The 1000 pushes arrive as one: CDS for them, then a single EDS send that also carries
    // what the first push had left waiting (clusters still go before endpoints).
    assert.deepEqual(sent.map((s) => s.type), [TypeUrl.Cluster, TypeUrl.Cluster, TypeUrl.Endpoint]);
    assert.equal(sent[1]?.hosts.length, 1000);
    assert.equal(sent[2]?.hosts.length, 1001);
  });

  it('a send that throws is logged and does not stop the others', () => {
    const stream = new FakeStream(100);
    const sent: TypeUrlT[] = [];
    const queue: SendQueue<number> = new SendQueue<number>({
      stream,
      logger: silentLogger(),
      merge: () => undefined,
      onPush: () => {
        queue.queue(TypeUrl.Cluster, 1);
        queue.queue(TypeUrl.Endpoint, 1);
      },
      send: (type) => {
        if (type === TypeUrl.Cluster) throw new Error('boom');
        sent.push(type);
      },
    });
    queue.push(push('a'));
    assert.deepEqual(sent, [TypeUrl.Endpoint]);
  });

  it('after close, nothing is sent', () => {
    const { queue, sent } = setup(100);
    queue.close();
    queue.push(push('a'));
    assert.deepEqual(sent, []);
  });
});
