import { errorMessage, mergePushRequests, type Logger, type PushRequest } from '@meridian/model';
import { PUSH_ORDER, TYPE_SHORT_NAME, TypeUrl } from './type-url.ts';

/**
 * What a stream needs from grpc-js: a write whose callback runs once the bytes are handed
 * to the connection (for a client that stops reading, not before HTTP/2 flow control lets
 * them go).
 */
export interface ResponseStream {
  write(chunk: Buffer, callback: (error?: Error | null) => void): unknown;
}

/**
 * Bytes written to a stream and not yet taken by the connection, past which nothing more is
 * built for it. A proxy that stops reading costs at most this plus the response that
 * crossed it; a full push to a sidecar of a thousand services (~330 KB) stays below it.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface SendQueueOptions<P> {
  readonly stream: ResponseStream;
  readonly logger: Logger;
  /** Default `DEFAULT_MAX_BUFFERED_BYTES`. */
  readonly maxBufferedBytes?: number | undefined;
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
 * make-before-break order. Once the bytes the client has not taken reach the limit,
 * nothing more is built or written until they fall below it: the bound is on bytes, not on
 * `write()` returning false, which grpc-js reports only after dozens of responses queued.
 * So a slow proxy costs a bounded amount of memory and never holds up others.
 */
export class SendQueue<P> {
  private readonly options: SendQueueOptions<P>;
  private readonly pending = new Map<TypeUrl, P>();
  private readonly maxBufferedBytes: number;
  private pendingPush: PushRequest | undefined;
  private buffered = 0;
  private blocked = false;
  private closed = false;
  pushes = 0;

  constructor(options: SendQueueOptions<P>) {
    this.options = options;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /** Bytes written and not yet taken by the connection. */
  get bufferedBytes(): number {
    return this.buffered;
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
        if (this.blocked) return; // the rest waits for the client to take what it was sent
      }
    }
  }

  /** Writes a response; past the byte limit, pauses the queue until the client takes enough. */
  write(bytes: Buffer): void {
    const size = bytes.length;
    this.buffered += size;
    try {
      this.options.stream.write(bytes, () => this.taken(size));
    } catch (err) {
      this.buffered -= size;
      this.options.logger.warn({ err: errorMessage(err) }, 'write failed');
      return;
    }
    if (this.buffered >= this.maxBufferedBytes) this.blocked = true;
  }

  private taken(size: number): void {
    this.buffered -= size;
    if (!this.blocked || this.buffered >= this.maxBufferedBytes) return;
    this.blocked = false;
    this.flush();
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    this.pendingPush = undefined;
  }
}
