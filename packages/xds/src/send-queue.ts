import { errorMessage, mergePushRequests, type Logger, type PushRequest } from '@meridian/model';
import { PUSH_ORDER, TYPE_SHORT_NAME, TypeUrl } from './type-url.ts';

/** What a stream needs from grpc-js: write with backpressure. */
export interface ResponseStream {
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface SendQueueOptions<P> {
  readonly stream: ResponseStream;
  readonly logger: Logger;
  /** A push reached the front of the queue: queue a send for every type it may change. */
  readonly onPush: (push: PushRequest) => void;
  /** Build and write the response of one type (through `write`). */
  readonly send: (typeUrl: TypeUrl, pending: P, push: PushRequest | undefined) => void;
  /** Fold a newer pending send of a type into the older one. */
  readonly merge: (into: P, from: P) => void;
}

/**
 * The per-connection push queue of both ADS variants (Istio's pushqueue idea): at most one
 * pending push, newer ones merged into it, and one pending send per type, flushed in
 * make-before-break order. While the stream does not drain nothing more is built or
 * written, so a slow proxy costs a bounded amount of memory and never holds up others.
 */
export class SendQueue<P> {
  private readonly options: SendQueueOptions<P>;
  private readonly pending = new Map<TypeUrl, P>();
  private pendingPush: PushRequest | undefined;
  private blocked = false;
  private closed = false;
  pushes = 0;

  constructor(options: SendQueueOptions<P>) {
    this.options = options;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  queue(typeUrl: TypeUrl, send: P): void {
    const existing = this.pending.get(typeUrl);
    if (existing === undefined) this.pending.set(typeUrl, send);
    else this.options.merge(existing, send);
  }

  /**
   * Make-before-break for removals: listeners or routes still to be sent after the current
   * response may stop using what it would remove, so the removal must wait for them.
   */
  get dependentsPending(): boolean {
    return this.pending.has(TypeUrl.Listener) || this.pending.has(TypeUrl.Route);
  }

  push(request: PushRequest): void {
    this.pendingPush = this.pendingPush ? mergePushRequests(this.pendingPush, request) : request;
    this.flush();
  }

  flush(): void {
    if (this.blocked || this.closed) return;
    const push = this.pendingPush;
    this.pendingPush = undefined;
    if (push) {
      this.pushes++;
      this.options.onPush(push);
    }
    // A second pass sends what the first one queued behind itself: a cluster removal held
    // back until the listeners and routes that used the cluster have been updated.
    for (let pass = 0; pass < 2 && this.pending.size > 0; pass++) {
      for (const typeUrl of PUSH_ORDER) {
        const send = this.pending.get(typeUrl);
        if (send === undefined) continue;
        this.pending.delete(typeUrl);
        try {
          this.options.send(typeUrl, send, pass === 0 ? push : undefined);
        } catch (err) {
          this.options.logger.error({ err, type: TYPE_SHORT_NAME[typeUrl] }, 'failed to build response');
          continue;
        }
        if (this.blocked) return; // the rest waits for 'drain'
      }
    }
  }

  /** Writes a response; when the stream's buffer is full, pauses the queue until it drains. */
  write(bytes: Buffer): void {
    let writable = true;
    try {
      writable = this.options.stream.write(bytes);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'write failed');
      return;
    }
    if (writable) return;
    this.blocked = true;
    this.options.stream.once('drain', () => {
      this.blocked = false;
      this.flush();
    });
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    this.pendingPush = undefined;
  }
}
