// Helpers shared by this folder's tests: bounded waiting without timed assertions.
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `check` returns true; fails with `what` after a generous bound. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

/** The HTTP status of a client-node ApiException (or of a watch error), if any. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** The parsed `kind: Status` body of a client-node ApiException. */
export function statusBodyOf(err: unknown): { reason?: string; code?: number; message?: string; kind?: string } {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') return JSON.parse(body) as { reason?: string; code?: number };
  return (body ?? {}) as { reason?: string; code?: number };
}
