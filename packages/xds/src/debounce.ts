import { mergePushRequests, type PushRequest } from '@meridian/model';

export interface DebounceOptions {
  /** Push once no change arrived for this long. */
  readonly quietMs: number;
  /** Never hold a change longer than this, however busy the mesh is. */
  readonly maxMs: number;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface Debouncer {
  add(request: PushRequest): void;
  /** Pushes what is pending now (shutdown, tests). */
  flush(): void;
  stop(): void;
  readonly pending: PushRequest | undefined;
}

/**
 * Coalesces change requests (Istio's debounce): waits until `quietMs` pass without a new
 * request, or `maxMs` since the first one, then hands one merged request to `push`.
 */
export function debounce(options: DebounceOptions, push: (request: PushRequest) => void, clock: Clock = systemClock): Debouncer {
  let pending: PushRequest | undefined;
  let firstAt = 0;
  let lastAt = 0;
  let timer: unknown;
  let stopped = false;

  const fire = () => {
    timer = undefined;
    if (!pending || stopped) return;
    const now = clock.now();
    const quiet = now - lastAt;
    const waited = now - firstAt;
    if (quiet >= options.quietMs || waited >= options.maxMs) {
      const request = pending;
      pending = undefined;
      push(request);
      return;
    }
    timer = clock.setTimeout(fire, Math.min(options.quietMs - quiet, options.maxMs - waited));
  };

  return {
    add(request) {
      if (stopped) return;
      const now = clock.now();
      const stamped: PushRequest = request.since === undefined ? { ...request, since: now } : request;
      if (!pending) {
        pending = stamped;
        firstAt = now;
      } else {
        pending = mergePushRequests(pending, stamped);
      }
      lastAt = now;
      if (options.quietMs <= 0) {
        fire();
        return;
      }
      timer ??= clock.setTimeout(fire, options.quietMs);
    },
    flush() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      if (pending) {
        const request = pending;
        pending = undefined;
        push(request);
      }
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
    get pending() {
      return pending;
    },
  };
}
