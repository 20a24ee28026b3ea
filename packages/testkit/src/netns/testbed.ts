/**
 * A machine-local stand-in for a Kubernetes node network: pods are network namespaces with
 * their own addresses on bridges this test bed creates, and nothing they send can leave the
 * machine (pods have no default route; service addresses are routed to a link that leads nowhere).
 *
 * Every name carries a run id, so test beds in parallel never clash; the subnets they take
 * are claimed under a lock directory. Everything made is removed by `close()`, at process exit
 * or on SIGINT/SIGTERM; what a SIGKILLed run left behind is swept by the next test bed.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { captureRules, NO_CAPTURE_RULES, SIDECAR_GID, SIDECAR_UID, type CaptureOptions } from './capture.ts';
import { registerExitCleanup } from './exit-cleanup.ts';
import { GroupProcess } from './group-process.ts';
import { hostCommand, tryHostCommand } from './host-command.ts';

/** Where Services' cluster IPs live inside every pod: routed to a link leading nowhere. */
export const SERVICE_CIDR = '10.96.0.0/16';
const LOCK_ROOT = path.join(tmpdir(), 'meridian-testbed');
const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** Istio's sidecar user (UID and GID 1337), which the capture lets out untouched. */
export const SIDECAR_USER: RunAs = { uid: SIDECAR_UID, gid: SIDECAR_GID };

export interface SpawnOptions {
  /** Log file name inside the pod's directory. */
  readonly logName: string;
  /** Drop to this user inside the namespace (setpriv); default root. */
  readonly runAs?: RunAs;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly stdinPipe?: boolean;
  readonly stdoutPipe?: boolean;
}

/** A bridge with a /24 of its own; the host (where Meridian runs) holds `.1`. */
export class PodNetwork {
  readonly name: string;
  readonly bridge: string;
  /** The first three octets of the /24. */
  readonly subnet: string;
  readonly hostAddress: string;
  private nextHost = 10;

  constructor(name: string, bridge: string, subnet: string) {
    this.name = name;
    this.bridge = bridge;
    this.subnet = subnet;
    this.hostAddress = `${subnet}.1`;
  }

  allocate(): string {
    if (this.nextHost > 250) throw new Error(`network ${this.name}: no addresses left`);
    return `${this.subnet}.${this.nextHost++}`;
  }
}

export class Pod {
  private readonly processes: GroupProcess[] = [];
  private captured = false;

  readonly name: string;
  readonly netns: string;
  readonly address: string;
  readonly network: PodNetwork;
  /** Scratch directory of the pod, readable by the sidecar user. */
  readonly dir: string;
  /** The pod's address on each network it has a link on (its own, and any `alsoOn`). */
  readonly addresses = new Map<string, string>();

  constructor(name: string, netns: string, address: string, network: PodNetwork, dir: string) {
    this.name = name;
    this.netns = netns;
    this.address = address;
    this.network = network;
    this.dir = dir;
    this.addresses.set(network.name, address);
  }

  /** The pod's address on `network` (a gateway's address where another network reaches it). */
  addressOn(network: string): string {
    const address = this.addresses.get(network);
    if (!address) throw new Error(`pod ${this.name} has no link on network ${network}`);
    return address;
  }

  /** Runs a command inside the pod's network namespace, as root, to completion. */
  exec(command: string, args: readonly string[], input?: string): string {
    return hostCommand('ip', ['netns', 'exec', this.netns, command, ...args], input);
  }

  /** Starts a long-running process inside the pod in its own process group. */
  spawn(command: string, args: readonly string[], options: SpawnOptions): GroupProcess {
    const user = options.runAs
      ? ['setpriv', `--reuid=${options.runAs.uid}`, `--regid=${options.runAs.gid}`, '--clear-groups', '--']
      : [];
    const proc = new GroupProcess('ip', ['netns', 'exec', this.netns, ...user, command, ...args], {
      logFile: path.join(this.dir, options.logName),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.stdinPipe ? { stdinPipe: true } : {}),
      ...(options.stdoutPipe ? { stdoutPipe: true } : {}),
      ...(options.runAs ? { owner: options.runAs } : {}),
    });
    this.processes.push(proc);
    return proc;
  }

  /** Istio's iptables capture in this pod (outbound → 15001, inbound → 15006). */
  capture(options: CaptureOptions = {}): void {
    this.exec('iptables-restore', [], captureRules(options));
    this.captured = true;
  }

  /** The pod's nat table as iptables-save prints it. */
  captureRulesInPlace(): string {
    return this.exec('iptables-save', ['-t', 'nat']);
  }

  /**
   * Names the pod's processes resolve without DNS: `ip netns exec` mounts
   * `/etc/netns/<netns>/hosts` over `/etc/hosts` for every process started after this, so
   * Envoy's resolver finds a test-local "external" host there. Removed with the pod.
   */
  setHosts(names: Readonly<Record<string, string>>): void {
    const dir = netnsEtc(this.netns);
    mkdirSync(dir, { recursive: true });
    const lines = Object.entries(names).map(([name, address]) => `${address} ${name}`);
    writeFileSync(path.join(dir, 'hosts'), `127.0.0.1 localhost\n${lines.join('\n')}\n`);
  }

  /** Files the sidecar user must read (bootstrap, certificates) are handed to it. */
  giveToSidecar(file: string): void {
    chownSync(file, SIDECAR_UID, SIDECAR_GID);
  }

  async stopProcesses(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }

  /** Synchronous teardown for exit paths: processes killed, rules removed, namespace deleted. */
  destroyNow(): void {
    for (const p of this.processes) p.killNow();
    if (this.captured) {
      try {
        this.exec('iptables-restore', [], NO_CAPTURE_RULES);
      } catch {
        // The namespace (and its rules) may be gone already.
      }
    }
    // Deleting the namespace deletes its end of the veth pair, and with it the bridge's end.
    tryHostCommand('ip', ['netns', 'delete', this.netns]);
    rmSync(netnsEtc(this.netns), { recursive: true, force: true });
  }
}

interface LockRecord {
  pid: number;
  bridges: string[];
  netns: string[];
  forwardRules: string[];
}

export class Testbed {
  readonly runId: string;
  /** Scratch directory of the run (pods' directories are inside). */
  readonly dir: string;
  private readonly networks = new Map<string, PodNetwork>();
  private readonly pods: Pod[] = [];
  private readonly record: LockRecord;
  private readonly unregister: () => void;
  private readonly lockDirs: string[] = [];
  private closed = false;

  private constructor() {
    this.runId = randomBytes(3).toString('hex');
    this.dir = mkdtempSync(path.join(tmpdir(), `meridian-bed-${this.runId}-`));
    // The sidecar runs as another user and must reach its files inside.
    chmodSync(this.dir, 0o755);
    this.record = { pid: process.pid, bridges: [], netns: [], forwardRules: [] };
    this.unregister = registerExitCleanup(() => this.destroyNow());
  }

  /** A test bed with one network, `default`. */
  static create(): Testbed {
    mkdirSync(LOCK_ROOT, { recursive: true });
    sweepStale();
    const bed = new Testbed();
    bed.addNetwork('default');
    return bed;
  }

  network(name = 'default'): PodNetwork {
    const net = this.networks.get(name);
    if (!net) throw new Error(`no network ${name}`);
    return net;
  }

  /** A network of its own: a new bridge and /24; no route joins it to the others. */
  addNetwork(name: string): PodNetwork {
    if (this.networks.has(name)) throw new Error(`network ${name} exists`);
    const bridge = `mrb${this.runId}${this.networks.size}`;
    const { subnet, lockDir } = claimSubnet();
    this.lockDirs.push(lockDir);
    this.record.bridges.push(bridge);
    this.saveRecord();
    const net = new PodNetwork(name, bridge, subnet);
    hostCommand('ip', ['link', 'add', bridge, 'type', 'bridge']);
    hostCommand('ip', ['addr', 'add', `${net.hostAddress}/24`, 'dev', bridge]);
    hostCommand('ip', ['link', 'set', bridge, 'up']);
    // With br_netfilter loaded (Docker hosts), bridged frames cross the host's FORWARD chain,
    // whose policy there is DROP: let this bridge's own traffic through, for the run only.
    if (existsSync(BRIDGE_NF) && readFileSync(BRIDGE_NF, 'utf8').trim() === '1') {
      const rule = ['FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT'];
      hostCommand('iptables', ['-I', ...rule]);
      this.record.forwardRules.push(rule.join(' '));
      this.saveRecord();
    }
    this.networks.set(name, net);
    return net;
  }

  /**
   * A pod: a namespace with loopback, `eth0` on the network's bridge, the service range routed
   * to a dead end, and a route to the host address of each network in `reach` (where
   * Meridian listens) besides its own. `alsoOn`: a link (`eth1`, …) and an address on each of
   * these networks too, as an east-west gateway has where other networks reach it; the pod
   * forwards nothing between its links.
   */
  addPod(name: string, options: { network?: string; reach?: readonly string[]; alsoOn?: readonly string[] } = {}): Pod {
    const net = this.network(options.network);
    const index = this.pods.length;
    const netns = `mr-${this.runId}-${name}`;
    const veth = `mrv${this.runId}${index}`;
    const address = net.allocate();
    const dir = path.join(this.dir, name);
    mkdirSync(dir, { mode: 0o755 });
    this.record.netns.push(netns);
    this.saveRecord();
    hostCommand('ip', ['netns', 'add', netns]);
    const pod = new Pod(name, netns, address, net, dir);
    this.pods.push(pod);
    const inNs = (...args: string[]) => hostCommand('ip', ['-n', netns, ...args]);
    inNs('link', 'set', 'lo', 'up');
    hostCommand('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    hostCommand('ip', ['link', 'set', veth, 'master', net.bridge, 'up']);
    inNs('addr', 'add', `${address}/24`, 'dev', 'eth0');
    inNs('link', 'set', 'eth0', 'up');
    // Captured connections are redirected before they leave. Anything else sent there goes
    // into a veth pair with both ends in the pod, where no one answers ARP: it goes nowhere.
    // (Not loopback: the capture leaves the application's loopback traffic alone.)
    inNs('link', 'add', 'svc0', 'type', 'veth', 'peer', 'name', 'svc1');
    inNs('link', 'set', 'svc0', 'up');
    inNs('link', 'set', 'svc1', 'up');
    inNs('route', 'add', SERVICE_CIDR, 'dev', 'svc0');
    for (const other of options.reach ?? []) {
      const host = this.network(other).hostAddress;
      if (other !== net.name) inNs('route', 'add', `${host}/32`, 'via', net.hostAddress);
    }
    for (const [i, other] of (options.alsoOn ?? []).entries()) {
      const extra = this.network(other);
      const link = `eth${i + 1}`;
      const hostEnd = `${veth}x${i}`;
      const extraAddress = extra.allocate();
      hostCommand('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', link, 'netns', netns]);
      hostCommand('ip', ['link', 'set', hostEnd, 'master', extra.bridge, 'up']);
      inNs('addr', 'add', `${extraAddress}/24`, 'dev', link);
      inNs('link', 'set', link, 'up');
      pod.addresses.set(other, extraAddress);
    }
    hostCommand('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
    return pod;
  }

  /** Stops every process (gracefully), then removes pods, bridges and rules. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all(this.pods.map((p) => p.stopProcesses()));
    this.unregister();
  }

  private destroyNow(): void {
    this.closed = true;
    for (const pod of this.pods.reverse()) pod.destroyNow();
    for (const rule of this.record.forwardRules) tryHostCommand('iptables', ['-D', ...rule.split(' ')]);
    for (const bridge of this.record.bridges) tryHostCommand('ip', ['link', 'delete', bridge]);
    for (const lockDir of this.lockDirs) rmSync(lockDir, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  private saveRecord(): void {
    for (const lockDir of this.lockDirs) writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify(this.record));
  }
}

/** A free /24 in 10.200.0.0–10.254.255.0 that no host address or route overlaps, claimed by mkdir. */
function claimSubnet(): { subnet: string; lockDir: string } {
  const inUse = hostCommand('ip', ['-4', '-o', 'addr']) + hostCommand('ip', ['-4', 'route']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const subnet = `10.${200 + randomBytes(1).readUInt8() % 55}.${randomBytes(1).readUInt8()}`;
    if (inUse.includes(`${subnet}.`)) continue;
    const lockDir = path.join(LOCK_ROOT, subnet);
    try {
      mkdirSync(lockDir);
    } catch {
      continue;
    }
    writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: process.pid, bridges: [], netns: [], forwardRules: [] }));
    return { subnet, lockDir };
  }
  throw new Error('no free /24 for a test network in 10.200.0.0/16–10.254.0.0/16');
}

/** Removes what test beds of processes that no longer exist left behind (a SIGKILLed run). */
/** The per-namespace files `ip netns exec` mounts over /etc. */
function netnsEtc(netns: string): string {
  return path.join('/etc/netns', netns);
}

function sweepStale(): void {
  for (const entry of readdirSync(LOCK_ROOT)) {
    const lockDir = path.join(LOCK_ROOT, entry);
    let record: LockRecord;
    try {
      record = JSON.parse(readFileSync(path.join(lockDir, 'owner.json'), 'utf8')) as LockRecord;
    } catch {
      continue;
    }
    if (alive(record.pid)) continue;
    for (const netns of record.netns) {
      tryHostCommand('ip', ['netns', 'delete', netns]);
      rmSync(netnsEtc(netns), { recursive: true, force: true });
    }
    for (const rule of record.forwardRules) tryHostCommand('iptables', ['-D', ...rule.split(' ')]);
    for (const bridge of record.bridges) tryHostCommand('ip', ['link', 'delete', bridge]);
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
