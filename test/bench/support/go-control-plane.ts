/**
 * envoyproxy/go-control-plane (test/interop `cmd/gcp-server`) as the side-by-side peer of
 * `pnpm bench xds`, driven over stdin: it serves the snapshot Meridian generated, pushes a
 * changed version on `push`, and reports its memory after forced GCs on `mem`.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface GoMemory {
  readonly heapAlloc: number;
  readonly stackInuse: number;
  readonly rss: number;
}

export class GoControlPlane {
  private readonly child: ChildProcess;
  private readonly lines: object[] = [];
  private waiter: (() => void) | undefined;
  private readonly stderr: string[] = [];
  private exited: number | null | undefined;
  address = '';

  private constructor(binary: string, resourcesDir: string) {
    // Its own process group, ended by its id in close().
    this.child = spawn(binary, ['--resources', resourcesDir], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buffered.slice(0, nl)) as object);
        buffered = buffered.slice(nl + 1);
      }
      this.waiter?.();
    });
    this.child.stderr?.on('data', (c: Buffer) => this.stderr.push(c.toString()));
    this.child.once('exit', (code) => {
      this.exited = code;
      this.waiter?.();
    });
  }

  static async start(binary: string, resourcesDir: string): Promise<GoControlPlane> {
    const server = new GoControlPlane(binary, resourcesDir);
    server.address = (await server.next<{ listening: string }>('listening')).listening;
    return server;
  }

  /** A new snapshot version; resolves with the epoch ms taken just before it was set. */
  async push(): Promise<number> {
    this.child.stdin?.write('push\n');
    return (await this.next<{ pushAt: number }>('pushAt')).pushAt;
  }

  async memory(): Promise<GoMemory> {
    this.child.stdin?.write('mem\n');
    return this.next<GoMemory>('rss');
  }

  close(): void {
    this.child.stdin?.end();
    if (this.exited === undefined && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  }

  private async next<T>(key: string): Promise<T> {
    for (;;) {
      const i = this.lines.findIndex((l) => key in l);
      if (i >= 0) return this.lines.splice(i, 1)[0] as T;
      if (this.exited !== undefined) throw new Error(`gcp-server exited (${this.exited}): ${this.stderr.join('')}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}
