/**
 * `pnpm demo [--envoy] [--rounds N]`: Meridian on the two-cluster example, a gRPC echo backend in each cluster,
 * and a proxyless gRPC client in `east` that finds its backends through xDS. Halfway, the
 * east backend is marked not ready in its manifest: traffic fails over to `west`, then
 * comes back. Runs on a copy of the example, so the repository is left untouched.
 * `--envoy`: the same story through real Envoy sidecars with mTLS (demo-envoy.ts).
 * `--rounds N`: requests per phase (default 5).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEchoBackend, xdsEchoClient, type EchoBackend } from '@meridian/testkit';
import { envoyDemo, envoyDemoMissing } from './demo-envoy.ts';

const { values: flags } = parseArgs({ options: { envoy: { type: 'boolean', default: false }, rounds: { type: 'string', default: '5' } } });
const rounds = Number(flags.rounds);
const root = path.resolve(import.meta.dirname, '..');

const say = (text: string) => process.stdout.write(`${text}\n`);

/** The example's ports (examples/two-clusters/meridian.yaml) and the echo backends'. */
const DEMO_PORTS: ReadonlyArray<readonly [string, number, string]> = [
  ['127.0.0.1', 15010, 'listen.xds'],
  ['127.0.0.1', 15012, 'listen.xdsTls'],
  ['127.0.0.1', 15014, 'listen.http'],
  ['127.0.0.11', 17070, 'the east echo backend'],
  ['127.0.0.21', 17070, 'the west echo backend'],
];

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: a whole number of requests per phase, at least 1 (got ${flags.rounds})`);
  if (flags.envoy) {
    const missing = envoyDemoMissing();
    if (missing) throw new Error(`pnpm demo --envoy ${missing}; plain \`pnpm demo\` needs neither`);
    return envoyDemo({ rounds });
  }
  // Another server on these ports would answer in Meridian's place: refuse to start instead.
  for (const [host, port, what] of DEMO_PORTS) {
    if (!(await portFree(host, port))) throw new Error(`${host}:${port} (${what}) is in use by another process; stop it (another \`pnpm demo\` or \`pnpm start\`?) and run the demo again`);
  }
  const work = mkdtempSync(path.join(tmpdir(), 'meridian-demo-'));
  cpSync(path.join(root, 'examples/two-clusters'), work, { recursive: true });
  const config = path.join(work, 'meridian.yaml');
  const eastEcho = path.join(work, 'east/echo.yaml');
  const logFile = path.join(work, 'meridian.log');
  say(`Meridian demo — two clusters (east, west) from ${path.relative(root, path.join(root, 'examples/two-clusters'))}`);
  say(`  working copy: ${work} (Meridian's log: ${logFile})\n`);

  const log = openSync(logFile, 'w');
  const meridian = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'packages/server/src/cli.ts'), 'serve', '--config', config], {
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<number | null>((resolve) => meridian.once('exit', resolve));
  const backends: EchoBackend[] = [];
  let finished = false;
  try {
    await waitForReady();
    say('1. Meridian is up: ADS on 127.0.0.1:15010, HTTP on http://127.0.0.1:15014 (try /debug/registryz)');
    backends.push(await startEchoBackend({ host: '127.0.0.11', port: 17070, cluster: 'east', name: 'east (127.0.0.11)' }));
    backends.push(await startEchoBackend({ host: '127.0.0.21', port: 17070, cluster: 'west', name: 'west (127.0.0.21)' }));
    say('2. echo backends: one in east, one in west; the same Service echo.demo in both clusters');

    const client = xdsEchoClient('xds:///echo.demo.svc.cluster.local:7070', {
      xds_servers: [{ server_uri: '127.0.0.1:15010', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id: 'demo-client', locality: { region: 'us-east', zone: 'us-east-1a' }, metadata: { CLUSTER_ID: 'east' } },
    });
    say('3. a gRPC client in east (locality us-east/us-east-1a) calls xds:///echo.demo.svc.cluster.local:7070\n');

    const call = async (label: string, n: number) => {
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        try {
          const reply = await client.echo('hello');
          say(`   ${label}  answered by ${reply.backend.padEnd(18)} ${(performance.now() - started).toFixed(1)} ms`);
        } catch (err) {
          say(`   ${label}  failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(300);
      }
    };

    await call('local     ', rounds);
    say(`\n4. marking the east endpoint not ready (ready: false in ${path.relative(work, eastEcho)})`);
    const original = readFileSync(eastEcho, 'utf8');
    writeFileSync(eastEcho, original.replace('ready: true', 'ready: false'));
    await sleep(400);
    await call('failover  ', rounds);
    say('\n5. east is ready again');
    writeFileSync(eastEcho, original);
    await sleep(400);
    await call('recovered ', rounds);

    const registry = (await (await fetch('http://127.0.0.1:15014/debug/registryz')).json()) as {
      services: Array<{ hostname: string; endpoints: Array<{ cluster: string; address: string; health: string }> }>;
    };
    say('\n6. what Meridian knows (/debug/registryz):');
    for (const s of registry.services) {
      say(`   ${s.hostname.padEnd(40)} ${s.endpoints.map((e) => `${e.cluster}:${e.address} ${e.health}`).join(', ')}`);
    }
    client.close();
    say('\nDone. `pnpm start` runs Meridian alone on this example; README.md shows the rest.');
    finished = true;
  } finally {
    await Promise.all(backends.map((b) => b.close()));
    meridian.kill('SIGTERM');
    await exited;
    // On failure the working copy stays, with Meridian's log, for whoever looks into it.
    if (finished) rmSync(work, { recursive: true, force: true });
    else process.stderr.write(`Meridian's log is kept: ${logFile}\n`);
  }

  async function waitForReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (meridian.exitCode !== null) {
        throw new Error(`meridian exited (${meridian.exitCode}); is port 15010 or 15014 in use? Log:\n${readFileSync(logFile, 'utf8')}`);
      }
      // Its own log says it is ready: no other server on the port can stand in for it.
      if (readFileSync(logFile, 'utf8').includes('"msg":"meridian ready"')) return;
      await sleep(100);
    }
    throw new Error('meridian did not become ready within 30 s');
  }
}

main().then(
  // grpc-js-xds keeps its ADS stream retrying after the client closes; the demo is over.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
