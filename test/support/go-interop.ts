/**
 * Go programs of the pinned module in test/interop (grpc-go's xDS client, go-control-plane),
 * built on demand for tests and benchmarks. A missing `go` toolchain skips what needs them,
 * unless MERIDIAN_REQUIRE_REAL_PEERS=1 (CI), where it fails instead.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { eventually } from './eventually.ts';
import { REPO_ROOT, type MeridianProcess } from './meridian-process.ts';

export const INTEROP_DIR = path.join(REPO_ROOT, 'test/interop');
/** Where the binaries go; `go build` relinks only what changed, so repeated runs are cheap. */
export const INTEROP_BIN_DIR = process.env['MERIDIAN_INTEROP_BIN'] ?? path.join(tmpdir(), 'meridian-interop');
const BUILD_TIMEOUT_MS = 10 * 60_000;

export type Built = { readonly binary: string } | { readonly missing: string };

/**
 * Builds `test/interop/cmd/<name>`. `-mod=readonly` keeps go.mod and go.sum as committed: a
 * build never resolves a version of its own.
 */
export async function buildGoProgram(name: string): Promise<Built> {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return { missing: '`go` is not on PATH (needed to build test/interop)' };
  const binary = path.join(INTEROP_BIN_DIR, name);
  const child = spawn('go', ['build', '-mod=readonly', '-buildvcs=false', '-o', binary, `./cmd/${name}`], { cwd: INTEROP_DIR, stdio: ['ignore', 'ignore', 'pipe'], timeout: BUILD_TIMEOUT_MS });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  // A toolchain that is there but cannot build our pinned module is a failure, not a skip.
  if (code !== 0) throw new Error(`go build ./cmd/${name} in test/interop failed (exit ${code}):\n${stderr}`);
  return { binary };
}

/** Skips the test for `reason`, or fails it where real peers are required (CI). */
export function skipOrFail(t: TestContext, reason: string): void {
  if (process.env['MERIDIAN_REQUIRE_REAL_PEERS'] === '1') throw new Error(`MERIDIAN_REQUIRE_REAL_PEERS=1 but ${reason}`);
  t.skip(reason);
}

export interface GoEchoReply {
  readonly backend?: string;
  readonly cluster?: string;
  readonly error?: string;
}

/**
 * grpc-go as a proxyless xDS client (`cmd/xds-echo`): one long-lived channel to an
 * `xds:///` target, driven over stdin; each call's reply (or error) comes back as a JSON line.
 */
export class GoEchoClient {
  private readonly child: ChildProcess;
  private readonly replies: GoEchoReply[] = [];
  private waiter: (() => void) | undefined;
  private exited: number | null | undefined;
  readonly stderr: string[] = [];

  /** `args`: more flags for xds-echo (`--xds-creds`: security from xDS). */
  constructor(binary: string, target: string, bootstrapFile: string, env: NodeJS.ProcessEnv = {}, args: readonly string[] = []) {
    // Its own process group, so close() ends it and nothing else.
    this.child = spawn(binary, ['--target', target, ...args], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrapFile, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        this.replies.push(JSON.parse(buffered.slice(0, nl)) as GoEchoReply);
        buffered = buffered.slice(nl + 1);
      }
      this.waiter?.();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
    this.child.once('exit', (code) => {
      this.exited = code;
      this.waiter?.();
    });
  }

  /** Makes `n` calls one after another; their replies in order. */
  async call(n: number): Promise<GoEchoReply[]> {
    this.child.stdin?.write(`${n}\n`);
    while (this.replies.length < n) {
      if (this.exited !== undefined) throw new Error(`xds-echo exited (${this.exited}): ${this.stderr.join('')}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
    return this.replies.splice(0, n);
  }

  close(): void {
    if (this.exited !== undefined || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}

/** What Meridian recorded for grpc-go's node `id`: every type ACKed, none rejected; the types it asked for. */
export async function assertInSyncWithoutNack(meridian: MeridianProcess, id: string, c: GoEchoClient): Promise<string[]> {
  type Sync = { proxies: Array<{ node: string; types: Record<string, { synced: boolean; lastNack: { message?: string } | null }> }> };
  const proxy = await eventually(`${id} ACKed every type`, async () => {
    const { body } = await meridian.getJson<Sync>(`/debug/syncz?proxy=${id}`);
    const p = body.proxies[0];
    return p && Object.values(p.types).every((w) => w.synced) ? p : undefined;
  });
  for (const [type, w] of Object.entries(proxy.types)) assert.equal(w.lastNack, null, `grpc-go rejected ${type}: ${JSON.stringify(w.lastNack)}\n${c.stderr.join('')}`);
  return Object.keys(proxy.types).sort();
}
