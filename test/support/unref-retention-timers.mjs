// Loaded before every test file (scripts/run-tests.mjs). @grpc/grpc-js-xds keeps a
// deactivated priority child for 15 minutes on a referenced timer that closing the channel
// does not clear, so a test file that used an xDS client would stay alive for 15 minutes
// after its last test. No test waits 10 minutes for anything, so timers that long are
// unreferenced here: they still fire if the process lives, but never keep it alive.
const RETENTION_MS = 10 * 60 * 1000;
const original = globalThis.setTimeout;
globalThis.setTimeout = Object.assign(
  function setTimeout(callback, ms, ...args) {
    const timer = original(callback, ms, ...args);
    if (typeof ms === 'number' && ms >= RETENTION_MS) timer.unref?.();
    return timer;
  },
  original,
);
