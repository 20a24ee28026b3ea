/**
 * `pnpm bench convergence`: figures for the embedded default.
 *  - startup: spawn of `meridian serve` to its "ready" log line, against a bare
 *    `node --import tsx` of an empty file (the runtime's own start) in the same run;
 *  - manifest change → EDS received by N ADS clients (and ACKed): p50 and p99 against the
 *    designed floor, i.e. a raw fs.watch notification measured here plus the configured
 *    manifest settle (MANIFEST_SETTLE_MS) and debounce quiet period (100 ms).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_SETTLE_MS } from '@meridian/discovery';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, REPO_ROOT, Workspace } from '../support/meridian-process.ts';
import { percentile, print } from './support/report.ts';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 100);
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 20);
const QUIET_MS = 100;
const SETTLE_MS = MANIFEST_SETTLE_MS;


async function timeProcess(args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
  return performance.now() - started;
}

async function fsWatchLatency(dir: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    const file = path.join(dir, `probe-${i}.txt`);
    const seen = new Promise<void>((resolve) => {
      const w = watch(dir, () => {
        w.close();
        resolve();
      });
    });
    const t0 = performance.now();
    writeFileSync(file, String(i));
    await seen;
    samples.push(performance.now() - t0);
  }
  return percentile(samples, 50);
}

function writeEcho(ws: Workspace, ready: boolean): void {
  writeFileSync(
    ws.path('c1', 'echo.yaml'),
    yamlDocs(
      service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
      endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 17070 }, [{ address: '10.0.0.1', ready }, { address: '10.0.0.2' }]),
    ),
  );
}

async function main(): Promise<void> {
  const ws = new Workspace('meridian-bench-');
  mkdirSync(ws.path('c1'));
  mkdirSync(ws.path('probe'));
  writeEcho(ws, true);
  const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
  const emptyScript = ws.write('empty.ts', 'export {};\n');

  const runtime = percentile(await Promise.all([0, 1, 2].map(() => timeProcess(['--import', 'tsx', emptyScript]))), 50);
  const startups: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const m = await MeridianProcess.start(['serve', '--config', config]);
    startups.push(performance.now() - t0);
    await m.stop();
  }
  print('convergence.startup', percentile(startups, 50), 'ms', runtime);

  const meridian = await MeridianProcess.start(['serve', '--config', config]);
  const name = 'outbound|7070||echo.demo.svc.cluster.local';
  const clients = Array.from({ length: CLIENTS }, (_, i) => AdsTestClient.connect(meridian.xdsAddress, { id: `bench-${i}`, metadata: { CLUSTER_ID: 'c1' } }));
  await Promise.all(clients.map((c) => c.requestAck(TypeUrls.Endpoint, [name])));

  const latencies: number[] = [];
  for (let change = 0; change < CHANGES; change++) {
    const t0 = performance.now();
    writeEcho(ws, change % 2 === 1);
    await Promise.all(
      clients.map(async (c) => {
        const r = await c.next(10_000);
        latencies.push(performance.now() - t0);
        c.ack(r, [name]);
      }),
    );
  }
  const floor = (await fsWatchLatency(ws.path('probe'))) + SETTLE_MS + QUIET_MS;
  print(`convergence.manifest_to_eds_p50_${CLIENTS}_clients`, percentile(latencies, 50), 'ms', floor);
  print(`convergence.manifest_to_eds_p99_${CLIENTS}_clients`, percentile(latencies, 99), 'ms', floor);

  for (const c of clients) c.close();
  await meridian.stop();
  ws.remove();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String(err)}\n`);
    process.exit(1);
  },
);
