/** Live memory of a Meridian process started with the gc-probe hook (after two forced GCs). */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MeridianProcess } from '../../support/meridian-process.ts';

export interface Memory {
  readonly heap: number;
  readonly rss: number;
}

/** Node arguments for `MeridianProcess.start(..., { nodeArgs })` that install the probe. */
export const GC_PROBE_NODE_ARGS = ['--expose-gc', '--import', pathToFileURL(path.join(import.meta.dirname, 'gc-probe.mjs')).href];

/** Meridian after two forced GCs, from the gc-probe hook it was started with. */
export async function meridianMemory(m: MeridianProcess): Promise<Memory> {
  const seen = m.logs.length;
  m.signal('SIGUSR2');
  const probe = await m.waitForLog((l) => l.msg === 'gc probe' && m.logs.indexOf(l) >= seen);
  if (probe['gc'] !== true) throw new Error('meridian was started without --expose-gc');
  return { heap: Number(probe['heapUsed']) + Number(probe['external']), rss: Number(probe['rss']) };
}
