import * as grpc from '@grpc/grpc-js';

/**
 * Below this many proxies per second of drain, closing them all at once is no herd: a
 * handful of proxies reconnect at once and the other replica never notices. Spreading a
 * few streams over the whole drain period would only slow every shutdown (and every test).
 */
const SPREAD_PER_STREAM_MS = 20;

type ServerStream = grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/**
 * Remembers the long-lived streams of the services registered through `track(server)`, so a
 * shutdown can end them one by one instead of all at once. grpc-js hands streams only to the
 * handler, and the ADS handler lives in @meridian/xds, so the handler is wrapped here.
 */
export class StreamTracker {
  private readonly streams = new Set<ServerStream>();

  get size(): number {
    return this.streams.size;
  }

  /** A view of `server` whose `addService` records every streaming call it will serve. */
  track(server: grpc.Server): grpc.Server {
    const view = Object.create(server) as grpc.Server;
    view.addService = (definition, implementation) => {
      const wrapped: grpc.UntypedServiceImplementation = { ...implementation };
      for (const [name, method] of Object.entries(definition)) {
        const handler = implementation[name];
        if (!method.responseStream || typeof handler !== 'function') continue;
        wrapped[name] = (call: ServerStream, ...rest: unknown[]) => {
          this.streams.add(call);
          const forget = () => this.streams.delete(call);
          call.once('close', forget);
          call.once('cancelled', forget);
          call.once('finish', forget);
          return (handler as (call: ServerStream, ...rest: unknown[]) => unknown)(call, ...rest);
        };
      }
      server.addService(definition, wrapped);
    };
    return view;
  }

  /**
   * Ends every tracked stream with UNAVAILABLE (proxies reconnect, through the Service, to
   * another replica), each at a random moment within the drain window, so the other replicas
   * take the reconnects spread over time. Writes already queued on a stream go out before
   * its status. Resolves once every stream has been ended.
   */
  async drain(options: { drainMs: number; details?: string; random?: () => number }): Promise<number> {
    const streams = [...this.streams];
    const random = options.random ?? Math.random;
    const windowMs = Math.min(options.drainMs, streams.length * SPREAD_PER_STREAM_MS);
    await Promise.all(
      streams.map(
        (call) =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              this.streams.delete(call);
              try {
                call.emit('error', { code: grpc.status.UNAVAILABLE, details: options.details ?? 'server shutting down; reconnect' });
              } catch {
                // the proxy left meanwhile
              }
              resolve();
            }, Math.floor(random() * windowMs));
          }),
      ),
    );
    return streams.length;
  }
}
