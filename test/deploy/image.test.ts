/**
 * deploy/Dockerfile, built and run: podman builds it as written (its pack stage installs the
 * workspace from the lockfile and packs the CLI; its final stage installs that tarball), on a
 * stand-in for node:24-slim that test/deploy/node-base-image.sh builds from Debian's packages,
 * since no container registry is reachable here. The image's entrypoint is `meridian`, it
 * runs as uid 1000, answers `--version`, and its default command serves the mounted config
 * until SIGTERM, then drains and exits 0.
 *
 * podman runs with runc, host networking and explicit ulimits: on these machines crun cannot
 * use the hybrid cgroup layout, and neither runtime may set RLIMIT_NPROC to the caller's own
 * limit, only below it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RealPeer, realPeersMissing, TEST_NODE_BASE_IMAGE } from '@meridian/testkit';
import { REPO_ROOT } from '../support/meridian-process.ts';
import { DEPLOY_DIR } from './kustomize.ts';

const skip = realPeersMissing([RealPeer.Podman]);
const run = promisify(execFile);

const IMAGE = 'localhost/meridian:test';
const PODMAN = ['--runtime', 'runc'];
const LIMITS = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];
const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'packages/server/package.json'), 'utf8')) as { version: string }).version;

function podman(args: readonly string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  return run('podman', [...PODMAN, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
}

describe('deploy/Dockerfile, built with podman and run', { skip }, () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'meridian-image-'));
  const name = `meridian-image-test-${process.pid}`;
  let serving: ChildProcess | undefined;

  before(
    async () => {
      // Layers are cached: the second CI pass (Node 24) rebuilds nothing that did not change.
      await podman(['build', '--network=host', ...LIMITS, '--build-arg', `NODE_IMAGE=${TEST_NODE_BASE_IMAGE}`, '-f', path.join(DEPLOY_DIR, 'Dockerfile'), '-t', IMAGE, REPO_ROOT], 10 * 60_000);
    },
    { timeout: 11 * 60_000 },
  );

  after(async () => {
    serving?.kill('SIGKILL');
    await podman(['rm', '--force', '--ignore', name]).catch(() => undefined);
    // Earlier builds' images, untagged by this one; this one's layers stay as the next build's cache.
    await podman(['image', 'prune', '--force']).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('the entrypoint is meridian, the default command serves /etc/meridian/meridian.yaml, as uid 1000', async () => {
    const [inspected] = JSON.parse((await podman(['image', 'inspect', IMAGE])).stdout) as Array<{ Config: { Entrypoint: string[]; Cmd: string[]; User: string; ExposedPorts: Record<string, object> } }>;
    assert.deepEqual(inspected?.Config.Entrypoint, ['meridian']);
    assert.deepEqual(inspected?.Config.Cmd, ['serve', '--config', '/etc/meridian/meridian.yaml']);
    assert.equal(inspected?.Config.User, '1000:1000');
    assert.deepEqual(Object.keys(inspected?.Config.ExposedPorts ?? {}).sort(), ['15010/tcp', '15012/tcp', '15014/tcp']);
    assert.equal((await podman(['run', '--rm', ...LIMITS, '--entrypoint', 'id', IMAGE, '-u'])).stdout.trim(), '1000');
  });

  it('meridian --version in the image is this checkout\'s', async () => {
    assert.equal((await podman(['run', '--rm', ...LIMITS, IMAGE, '--version'])).stdout.trim(), VERSION);
  });

  it('serves the mounted config (health, the registry) and drains and exits 0 on SIGTERM', async () => {
    const config = path.join(scratch, 'config');
    mkdirSync(path.join(config, 'east'), { recursive: true });
    // uid 1000 reads it through a read-only mount; the CA goes where that user may write.
    writeFileSync(
      path.join(config, 'meridian.yaml'),
      ['listen: { xds: "127.0.0.1:0", xdsTls: "127.0.0.1:0", http: "127.0.0.1:0" }', 'ca: { dir: /tmp/meridian-ca }', 'clusters:', '  - id: east', '    manifests: /etc/meridian/east', ''].join('\n'),
      { mode: 0o644 },
    );
    writeFileSync(
      path.join(config, 'east', 'services.yaml'),
      ['apiVersion: v1', 'kind: Service', 'metadata: { name: echo, namespace: demo }', 'spec: { clusterIP: 10.96.0.10, ports: [{ name: http, port: 80, targetPort: 8080 }] }', ''].join('\n'),
      { mode: 0o644 },
    );
    // mkdtemp makes 0700 directories: uid 1000 in the container could not enter them.
    for (const dir of [scratch, config, path.join(config, 'east')]) chmodSync(dir, 0o755);
    const child = spawn('podman', [...PODMAN, 'run', '--rm', '--name', name, '--network=host', ...LIMITS, '-v', `${config}:/etc/meridian:ro`, IMAGE], { stdio: ['ignore', 'pipe', 'pipe'] });
    serving = child;
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close', not 'exit': the last lines may still be in the pipe when the process has exited.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    let closed = false;
    child.once('close', () => (closed = true));
    const line = async (msg: string, timeoutMs: number) => {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        const found = lines.find((l) => l['msg'] === msg);
        if (found) return found;
        if (closed) break;
      }
      throw new Error(`no "${msg}" from the container: ${stderr}${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    };
    const ready = await line('meridian ready', 60_000);
    const http = String(ready['http']);
    assert.equal((await fetch(`http://${http}/healthz`)).status, 200);
    const registry = (await (await fetch(`http://${http}/debug/registryz`)).json()) as { totals: { services: number }; clusters: Array<{ id: string; state: string }> };
    assert.equal(registry.totals.services, 1);
    assert.deepEqual(registry.clusters.map((c) => [c.id, c.state]), [['east', 'Synced']]);
    await podman(['stop', '--time', '20', name]);
    assert.equal(await exited, 0, stderr);
    serving = undefined;
    await line('stopped', 1000);
  });
});
