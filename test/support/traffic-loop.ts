/** Requests one after another until stopped, counting the good answers and keeping every failure. */
export interface TrafficLoop {
  /** Good answers so far. */
  ok(): number;
  /** Ends the loop after the request in flight; the totals. */
  stop(): Promise<{ ok: number; failures: string[] }>;
}

/**
 * Calls `request(i)` for i = 0, 1, … with `pauseMs` between calls until stopped. `request`
 * resolves with undefined for a good answer or a description of what was wrong; a throw is a
 * failure too.
 */
export function trafficLoop(request: (i: number) => Promise<string | undefined>, pauseMs = 20): TrafficLoop {
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        const wrong = await request(i);
        if (wrong === undefined) ok++;
        else failures.push(`${new Date().toISOString()} ${wrong}`);
      } catch (err) {
        failures.push(`${new Date().toISOString()} ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    ok: () => ok,
    async stop() {
      running = false;
      await loop;
      return { ok, failures };
    },
  };
}
