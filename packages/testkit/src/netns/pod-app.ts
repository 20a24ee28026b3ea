import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GroupProcess } from './group-process.ts';
import type { PodAppCommand, PodAppConfig, Received } from './pod-app-protocol.ts';
import type { Pod } from './testbed.ts';

const MAIN = fileURLToPath(new URL('./pod-app-main.ts', import.meta.url));

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  /** Response headers, lower-case (HTTP/1.1 only). */
  readonly headers?: Readonly<Record<string, string>>;
}

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** The application process of a test pod (pod-app-main.ts), driven over its stdin/stdout. */
export class PodApp {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  readonly pod: Pod;
  private readonly process: GroupProcess;

  private constructor(pod: Pod, proc: GroupProcess) {
    this.pod = pod;
    this.process = proc;
  }

  /**
   * Starts the app in `pod` as root (not the sidecar user, so its traffic is captured).
   * TypeScript runs through tsx, resolved from the current directory (the repository root).
   */
  static async start(pod: Pod, ports: PodAppConfig['ports']): Promise<PodApp> {
    const config: PodAppConfig = { pod: pod.name, ports };
    const proc = pod.spawn(process.execPath, ['--import', 'tsx', MAIN, JSON.stringify(config)], {
      logName: 'app.log',
      cwd: process.cwd(),
      stdinPipe: true,
      stdoutPipe: true,
    });
    const app = new PodApp(pod, proc);
    const stdout = proc.child.stdout;
    if (!stdout) throw new Error('app has no stdout');
    const ready = new Promise<void>((resolve, reject) => {
      proc.child.once('exit', (code) => reject(new Error(`app in ${pod.name} exited (${code}): ${proc.log()}`)));
      createInterface({ input: stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: boolean; id?: number; ok?: boolean; value?: unknown; error?: string };
        if (msg.ready) resolve();
        if (msg.id === undefined) return;
        const waiter = app.waiting.get(msg.id);
        app.waiting.delete(msg.id);
        if (msg.ok) waiter?.resolve(msg.value);
        else waiter?.reject(new Error(`${pod.name}: ${msg.error ?? 'failed'}`));
      });
    });
    proc.child.once('exit', () => {
      for (const w of app.waiting.values()) w.reject(new Error(`app in ${pod.name} exited`));
      app.waiting.clear();
    });
    await ready;
    return app;
  }

  private send(command: PodAppCommand): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.process.child.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  http1(dial: Omit<Extract<PodAppCommand, { op: 'http1' }>, 'op'>): Promise<HttpAnswer> {
    return this.send({ op: 'http1', ...dial }) as Promise<HttpAnswer>;
  }

  h2c(dial: Omit<Extract<PodAppCommand, { op: 'h2c' }>, 'op'>): Promise<HttpAnswer> {
    return this.send({ op: 'h2c', ...dial }) as Promise<HttpAnswer>;
  }

  grpc(dial: Omit<Extract<PodAppCommand, { op: 'grpc' }>, 'op'>): Promise<Received> {
    return this.send({ op: 'grpc', ...dial }) as Promise<Received>;
  }

  /** Sends one line over TCP and resolves with the line that comes back. */
  tcp(dial: Omit<Extract<PodAppCommand, { op: 'tcp' }>, 'op'>): Promise<string> {
    return this.send({ op: 'tcp', ...dial }) as Promise<string>;
  }

  /**
   * From now on every server of this app answers with `status` (gRPC: UNAVAILABLE when ≥ 500);
   * the HTTP/1.1 server after `delayMs`, and with 503 to every `failEvery`-th request.
   */
  async setStatus(status: number, options: { delayMs?: number; failEvery?: number } = {}): Promise<void> {
    await this.send({ op: 'status', status, ...options });
  }

  /** When (wall clock, ms) the pod's Envoy first showed stat `name` at `value`, polled from inside the pod. */
  statReaches(name: string, value: number, options: { everyMs?: number; timeoutMs?: number } = {}): Promise<number> {
    return this.send({ op: 'statReaches', name, value, ...options }) as Promise<number>;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
