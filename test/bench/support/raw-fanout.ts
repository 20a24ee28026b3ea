/**
 * The raw baseline of `pnpm bench xds`, in its own process (forked with --expose-gc) as
 * Meridian is in its own: a grpc-js server that writes the same bytes to every open stream.
 * Measured alone, its memory per stream is not blurred by the bench's own heap (the swarm
 * bookkeeping, the informers, the captured snapshot), which once made the baseline negative.
 *
 * Each stream is greeted as Meridian greets a proxy: the full payload (`argv[2]` bytes, the
 * size of one proxy's CDS), then one byte that tells the swarm it is connected; so its RSS
 * per stream also counts the transport buffers that sending those bytes grew.
 *
 * Messages from the parent: {cmd:'memory'} → {memory:{heap,rss}} after two forced GCs;
 * {cmd:'fanout', bytes} → {wrote: epoch ms just before the first write}; {cmd:'close'}.
 */
import * as grpc from '@grpc/grpc-js';

type Command = { cmd: 'memory' } | { cmd: 'fanout'; bytes: number } | { cmd: 'close' };

const send = (m: object) => process.send?.(m);
const identity = (b: Buffer) => b;
const greeting = Buffer.alloc(Number(process.argv[2] ?? 0), 7);
const server = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20 });
const calls: Array<grpc.ServerDuplexStream<Buffer, Buffer>> = [];
server.addService(
  { Fanout: { path: '/bench.Raw/Fanout', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
  {
    Fanout: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      calls.push(call);
      call.on('error', () => undefined);
      if (greeting.length > 1) call.write(greeting);
      call.write(Buffer.from([1]));
    },
  },
);

function liveMemory(): { heap: number; rss: number } {
  if (!global.gc) throw new Error('raw-fanout must run with --expose-gc');
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

process.on('message', (m: Command) => {
  switch (m.cmd) {
    case 'memory':
      send({ memory: liveMemory() });
      break;
    case 'fanout': {
      const payload = Buffer.alloc(m.bytes, 7);
      const wrote = performance.timeOrigin + performance.now();
      for (const c of calls) c.write(payload);
      send({ wrote });
      break;
    }
    case 'close':
      server.forceShutdown();
      process.disconnect();
      break;
  }
});

server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  send({ listening: port });
});
