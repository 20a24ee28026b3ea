import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fchownSync, openSync, readFileSync } from 'node:fs';

export interface GroupProcessOptions {
  /** stdout and stderr go to this file (appended), so a failed test can show them. */
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** stdin as a pipe the caller writes to (else /dev/null). */
  readonly stdinPipe?: boolean;
  /** stdout as a pipe the caller reads (else into the log file with stderr). */
  readonly stdoutPipe?: boolean;
  /**
   * The user the process runs as owns its log file, as a container's process may reopen its
   * own stdout (`/dev/stdout`, where Envoy writes access logs).
   */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/**
 * A child process that leads its own process group, so stopping it also stops whatever it
 * started, and only that: it is ended by its group id, never by name.
 */
export class GroupProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  private readonly exited: Promise<number | null>;

  constructor(command: string, args: readonly string[], options: GroupProcessOptions) {
    const log = openSync(options.logFile, 'a');
    try {
      if (options.owner) fchownSync(log, options.owner.uid, options.owner.gid);
      this.child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: [options.stdinPipe ? 'pipe' : 'ignore', options.stdoutPipe ? 'pipe' : log, log],
      });
    } finally {
      closeSync(log);
    }
    this.logFile = options.logFile;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.once('error', () => resolve(null));
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`process did not start; log: ${this.log()}`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    signalGroup(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything the leader left behind in its group goes too.
    signalGroup(this.pid, 'SIGKILL');
  }

  /** For exit paths that cannot wait: SIGKILL to the group. */
  killNow(): void {
    if (this.child.pid !== undefined) signalGroup(this.child.pid, 'SIGKILL');
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}
