// Loaded into the Meridian process `pnpm bench xds` starts (with --expose-gc): on SIGUSR2 it
// collects garbage twice (the second pass frees what the first one's finalizers released) and
// prints one JSON line among the logs, so memory per proxy compares live memory, not how much
// garbage happened to be waiting when the figure was read.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ msg: 'gc probe', gc: typeof globalThis.gc === 'function', heapUsed: m.heapUsed, external: m.external, rss: m.rss })}\n`);
});
