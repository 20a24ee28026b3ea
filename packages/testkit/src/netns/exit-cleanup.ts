/**
 * Clean-up that must run however the process ends: normally (the owner calls it), on an
 * uncaught failure ('exit'), or on SIGINT/SIGTERM (a developer's Ctrl-C, a runner's timeout).
 * Handlers are synchronous so they can run from 'exit'. SIGKILL cannot be caught; what it
 * leaves behind is swept by the next test bed (see `sweepStale`).
 */
const handlers = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const handler of [...handlers].reverse()) {
    handlers.delete(handler);
    try {
      handler();
    } catch {
      // Keep going: one failed clean-up must not leave the rest behind.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      runAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Registers `handler` to run at exit unless the returned function is called first (which runs it). */
export function registerExitCleanup(handler: () => void): () => void {
  install();
  handlers.add(handler);
  return () => {
    if (handlers.delete(handler)) handler();
  };
}
