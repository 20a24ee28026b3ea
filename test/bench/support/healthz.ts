/** The event loop's stalls as a client sees them: how long /healthz takes to answer. */
import type { MeridianProcess } from '../../support/meridian-process.ts';
import { percentile } from './report.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The longest /healthz answer while `work` runs. */
export async function worstHealthz(meridian: MeridianProcess, work: () => Promise<void>): Promise<number> {
  let probing = true;
  let worst = 0;
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`http://${meridian.httpAddress}/healthz`).then((r) => r.text());
      worst = Math.max(worst, performance.now() - t);
      await sleep(5);
    }
  })();
  try {
    await work();
  } finally {
    probing = false;
    await probe;
  }
  return worst;
}

/** The median /healthz answer of an idle Meridian. */
export async function idleHealthz(meridian: MeridianProcess): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await fetch(`http://${meridian.httpAddress}/healthz`).then((r) => r.text());
    times.push(performance.now() - t);
  }
  return percentile(times, 50);
}
