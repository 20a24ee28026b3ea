import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'packages/server/src/cli.ts');

/**
 * How to start `meridian`: the sources through tsx (the default), or `bin`, an installed
 * executable (the packed CLI); `cwd` defaults to the repository root.
 */
export interface MeridianCommand {
  readonly bin?: string;
  readonly cwd?: string;
}

function commandLine(command: MeridianCommand, nodeArgs: string[], args: string[]): [string, string[]] {
  return command.bin ? [command.bin, args] : [process.execPath, [...nodeArgs, '--import', 'tsx', CLI, ...args]];
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The real `meridian` process, started the way a user starts it, with its logs collected. */
export class MeridianProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  xdsAddress = '';
  xdsTlsAddress = '';
  httpAddress = '';
  private readonly exit: Promise<number | null>;
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.stderr.push(line);
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
  }

  /**
   * Starts `meridian <args>`; resolves once it logs "meridian ready" (or rejects if it exits).
   * `nodeArgs` go to Node before the TypeScript loader (e.g. `--import` of a module hook).
   */
  static async start(args: string[], env: NodeJS.ProcessEnv = {}, options: { nodeArgs?: string[] } & MeridianCommand = {}): Promise<MeridianProcess> {
    const child = spawn(...commandLine(options, [...profileArgs(), ...(options.nodeArgs ?? [])], args), {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new MeridianProcess(child);
    const ready = await proc.waitForLog((l) => l.msg === 'meridian ready', 30_000);
    proc.xdsAddress = String(ready['xds']);
    proc.xdsTlsAddress = String(ready['xdsTls']);
    proc.httpAddress = String(ready['http']);
    return proc;
  }

  /** Runs `meridian <args>` to completion. */
  static run(args: string[], env: NodeJS.ProcessEnv = {}, command: MeridianCommand = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(...commandLine(command, [], args), {
        cwd: command.cwd ?? REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async waitForLog(match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.logs.length; seen++) {
        const line = this.logs[seen];
        if (line && match(line)) return line;
      }
      if (this.child.exitCode !== null) {
        throw new Error(`meridian exited with ${this.child.exitCode}: ${this.stderr.join('')}`);
      }
      if (Date.now() > deadline) throw new Error(`log line not seen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async getJson<T = unknown>(pathname: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`http://${this.httpAddress}${pathname}`);
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Sends a signal without waiting (e.g. SIGUSR2 to a hook loaded with `nodeArgs`). */
  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

/** The clusters of examples/two-clusters, for a config written next to a copy of it. */
export const TWO_CLUSTERS = [
  { id: 'east', network: 'net-east', manifests: './east' },
  { id: 'west', network: 'net-west', manifests: './west' },
] as const;

/** A scratch directory with a copy of an example, and a config pointing at it on free ports. */
export class Workspace {
  readonly dir: string;

  constructor(prefix = 'meridian-test-') {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix));
  }

  copyExample(name: string): void {
    cpSync(path.join(REPO_ROOT, 'examples', name), this.dir, { recursive: true });
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  write(relative: string, content: string | object): string {
    const file = this.path(relative);
    writeFileSync(file, typeof content === 'string' ? content : stringify(content));
    return file;
  }

  /** Writes a config with the given clusters on port 0 (the OS picks), returns its path. */
  writeConfig(config: Record<string, unknown>, name = 'meridian.yaml'): string {
    return this.write(name, {
      listen: { xds: '127.0.0.1:0', xdsTls: '127.0.0.1:0', http: '127.0.0.1:0' },
      ca: { dir: './ca' },
      ...config,
    });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * `MERIDIAN_CPU_PROF=<dir>`: every Meridian started here writes a V8 CPU profile there when it
 * exits (Node refuses `--cpu-prof` in NODE_OPTIONS), for finding where a benchmark's time goes.
 */
function profileArgs(): string[] {
  const dir = process.env['MERIDIAN_CPU_PROF'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
