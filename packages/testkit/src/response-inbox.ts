import * as grpc from '@grpc/grpc-js';
import { envoyPackageDefinition } from './envoy-protos.ts';

/**
 * Responses of a test stream, queued for the test to take one at a time: `next()` waits for
 * one (bounded), `quiet()` checks that none comes. Shared by the SotW and delta test clients.
 */
export class ResponseInbox<T> {
  private readonly queue: T[] = [];
  private waiters: Array<(r: T | Error) => void> = [];
  private ended: Error | undefined;
  private readonly what: string;

  constructor(what: string) {
    this.what = what;
  }

  deliver(response: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(response);
    else this.queue.push(response);
  }

  fail(err: Error): void {
    this.ended ??= err;
    for (const w of this.waiters.splice(0)) w(err);
  }

  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<T> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${this.what} response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: T | Error) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves true if no response arrives within `ms` (and leaves any late one queued). */
  async quiet(ms: number): Promise<boolean> {
    if (this.queue.length > 0) return false;
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.length === 0;
  }
}

/** A client of Envoy's AggregatedDiscoveryService, loaded through @grpc/proto-loader. */
export function adsServiceClient(address: string, credentials: grpc.ChannelCredentials): grpc.Client {
  const pkg = grpc.loadPackageDefinition(envoyPackageDefinition()) as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
  };
  // Envoy takes responses of any size; grpc-js's 4 MiB default would cut a probe short.
  return new pkg.envoy.service.discovery.v3.AggregatedDiscoveryService(address, credentials, { 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
}
