import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, hostnameKeys, silentLogger, type PushRequest } from '@meridian/model';
import { SendQueue, type ResponseStream } from './send-queue.ts';
import { TypeUrl, type TypeUrl as TypeUrlT } from './type-url.ts';

/**
 * A stream whose client takes every write at once while `reading`, and otherwise holds it
 * (its write callback pending) until `read()`, as grpc-js does once HTTP/2 flow control
 * stops it. `write()` always reports room: the queue must not rely on it.
 */
class FakeStream implements ResponseStream {
  written: Buffer[] = [];
  reading: boolean;
  private readonly held: Array<() => void> = [];
  constructor(reading = true) {
    this.reading = reading;
  }
  write(chunk: Buffer, callback: () => void): boolean {
    this.written.push(chunk);
    if (this.reading) callback();
    else this.held.push(callback);
    return true;
  }
  read(): void {
    this.reading = true;
    for (const callback of this.held.splice(0)) callback();
  }
}

const push = (...hosts: string[]): PushRequest => ({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, hosts), reasons: ['t'] });

function setup(options: { reading?: boolean; maxBufferedBytes?: number; responseBytes?: number } = {}) {
  const stream = new FakeStream(options.reading ?? true);
  const sent: Array<{ type: TypeUrlT; hosts: string[] }> = [];
  let built = 0;
  const queue: SendQueue<Set<string>> = new SendQueue<Set<string>>({
    stream,
    logger: silentLogger(),
    maxBufferedBytes: options.maxBufferedBytes ?? 1,
    merge: (into, from) => from.forEach((h) => into.add(h)),
    onPush: (p) => {
      queue.queue(TypeUrl.Endpoint, new Set(p.configs.map((k) => k.name)));
      queue.queue(TypeUrl.Cluster, new Set(p.configs.map((k) => k.name)));
      queue.queue(TypeUrl.Listener, new Set(p.configs.map((k) => k.name)));
    },
    send: (type, hosts) => {
      built++;
      sent.push({ type, hosts: [...hosts].sort() });
      queue.write(Buffer.alloc(options.responseBytes ?? 8));
    },
  });
  return { stream, queue, sent, built: () => built };
}

describe('SendQueue', () => {
  it('sends in make-before-break order: clusters, endpoints, then listeners', () => {
    const { queue, sent } = setup();
    queue.push(push('a'));
    assert.deepEqual(sent.map((s) => s.type), [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener]);
  });

  it('stops building while the client takes nothing, and merges everything meanwhile into one send per type', () => {
    const { stream, queue, sent, built } = setup({ reading: false });
    queue.push(push('a')); // CDS written and held → EDS and LDS wait
    assert.equal(queue.isBlocked, true);
    for (let i = 0; i < 1000; i++) queue.push(push(`h${i}`));
    assert.equal(built(), 1, 'nothing more is built for a stuck proxy');
    assert.equal(stream.written.length, 1);
    stream.read();
    assert.equal(queue.isBlocked, false);
    // The 1000 pushes arrive as one: CDS for them, then single EDS and LDS sends that also
    // carry what the first push had left waiting (clusters still go first).
    assert.deepEqual(sent.map((s) => s.type), [TypeUrl.Cluster, TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener]);
    assert.equal(sent[1]?.hosts.length, 1000);
    assert.equal(sent[2]?.hosts.length, 1001);
  });

  it('blocks once the bytes the client has not taken reach the limit, although write() reports room', () => {
    const { stream, queue, sent } = setup({ reading: false, maxBufferedBytes: 100, responseBytes: 60 });
    queue.push(push('a'));
    assert.deepEqual(sent.map((s) => s.type), [TypeUrl.Cluster, TypeUrl.Endpoint], 'the write that reached the limit is the last');
    assert.equal(queue.isBlocked, true);
    assert.equal(queue.bufferedBytes, 120, 'at most the limit plus one response');
    for (let i = 0; i < 100; i++) queue.push(push(`h${i}`));
    assert.equal(queue.bufferedBytes, 120, 'pushes to a stuck stream cost no bytes');
    stream.read();
    assert.equal(queue.isBlocked, false);
    assert.equal(queue.bufferedBytes, 0);
    assert.deepEqual(sent.map((s) => s.type), [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener]);
  });

  it('does not block a client that keeps up, however much it is sent', () => {
    const { queue, sent } = setup({ maxBufferedBytes: 100, responseBytes: 1000 });
    for (let i = 0; i < 10; i++) queue.push(push(`h${i}`));
    assert.equal(queue.isBlocked, false);
    assert.equal(sent.length, 30);
    assert.equal(queue.bufferedBytes, 0);
  });

  it('a send that throws is logged and does not stop the others', () => {
    const stream = new FakeStream();
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
    const { queue, sent } = setup();
    queue.close();
    queue.push(push('a'));
    assert.deepEqual(sent, []);
  });
});
