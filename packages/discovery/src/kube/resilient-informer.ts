import type { Informer, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { errorMessageWithCauses, type Logger } from '@meridian/model';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const InformerState = {
  Starting: 'starting',
  Synced: 'synced',
  Failed: 'failed',
  Stopped: 'stopped',
  /** Not watched: the API does not serve the kind (a policy CRD that is not installed). */
  Absent: 'absent',
} as const;
export type InformerState = (typeof InformerState)[keyof typeof InformerState];

export type InformerEventType = 'upsert' | 'delete';

export interface ResilientInformerOptions<T extends KubernetesObject> {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** API path to watch, e.g. `/api/v1/pods`. */
  readonly path: string;
  /** One page of the list; called with the continue token until it is exhausted. */
  readonly listPage: (continueToken: string | undefined) => Promise<KubernetesListObject<T>>;
  readonly onEvent: (type: InformerEventType, object: T) => void;
  readonly onStateChange: () => void;
  readonly backoff: Backoff;
  readonly logger: Logger;
}

export interface InformerStatus {
  readonly name: string;
  readonly state: InformerState;
  readonly syncedOnce: boolean;
  readonly restarts: number;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

/**
 * client-node's informer, made to survive: on any error other than 410 it stops for good
 * and `stop()` itself reports an AbortError, so this wrapper restarts it with jittered
 * exponential backoff, ignores errors it caused, and knows when a (re)start has synced:
 * `start()` resolves after the list and the watch request, with no error in between.
 * A restart keeps the informer's cache and resourceVersion, so it resumes the watch (or
 * relists on 410) and reports only what changed while it was away.
 */
export class ResilientInformer<T extends KubernetesObject> {
  readonly name: string;
  /** Made on the first start: client-node is loaded only when a Kubernetes cluster is used. */
  private informer: Informer<T> | undefined;
  private readonly options: ResilientInformerOptions<T>;
  private readonly logger: Logger;
  private stateValue: InformerState = InformerState.Starting;
  private syncedOnce = false;
  private stopped = false;
  private restarts = 0;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private errorSinceStart = false;
  private lastError: { message: string; at: number } | undefined;

  constructor(options: ResilientInformerOptions<T>) {
    this.options = options;
    this.name = options.name;
    this.delayMs = options.backoff.initialMs;
    this.logger = options.logger.child({ informer: options.name });
  }

  get state(): InformerState {
    return this.stateValue;
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  start(): void {
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.setState(InformerState.Stopped);
    try {
      await this.informer?.stop();
    } catch {
      // stopping an informer that never connected is fine
    }
  }

  status(): InformerStatus {
    return {
      name: this.name,
      state: this.stateValue,
      syncedOnce: this.syncedOnce,
      restarts: this.restarts,
      lastError: this.lastError?.message ?? null,
      lastErrorAt: this.lastError ? new Date(this.lastError.at).toISOString() : null,
    };
  }

  private deliver(type: InformerEventType, obj: T): void {
    if (this.stopped) return;
    try {
      this.options.onEvent(type, obj);
    } catch (err) {
      // Never let a handler error escape into client-node: it would stop the informer.
      this.logger.error({ err, object: obj.metadata?.name }, 'event handler failed');
    }
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.errorSinceStart = false;
    try {
      const informer = (this.informer ??= await this.createInformer());
      if (this.stopped) return;
      await informer.start();
    } catch (err) {
      this.onError(err);
    }
    if (this.stopped || this.errorSinceStart) return;
    this.syncedOnce = true;
    this.delayMs = this.options.backoff.initialMs;
    this.setState(InformerState.Synced);
  }

  private onError(err: unknown): void {
    if (this.stopped) return; // the AbortError of our own stop()
    this.errorSinceStart = true;
    const message = describeError(err, this.options.kubeConfig.getCurrentCluster()?.server);
    this.lastError = { message, at: Date.now() };
    if (this.timer) return; // a restart is already scheduled
    const delay = jittered(this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.options.backoff.maxMs);
    this.logger.warn({ error: message, retryInMs: delay }, 'watch failed; restarting');
    this.setState(InformerState.Failed);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.restarts++;
      void this.run();
    }, delay);
  }

  private async createInformer(): Promise<Informer<T>> {
    const { makeInformer } = await import('@kubernetes/client-node');
    const informer = makeInformer<T>(this.options.kubeConfig, this.options.path, () => listAllPages(this.options.listPage));
    informer.on('add', (obj) => this.deliver('upsert', obj));
    informer.on('update', (obj) => this.deliver('upsert', obj));
    informer.on('delete', (obj) => this.deliver('delete', obj));
    informer.on('error', (err: unknown) => this.onError(err));
    return informer;
  }

  private setState(state: InformerState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.options.onStateChange();
  }
}

/** A retry delay spread ±20%, so clients failing together do not retry together. */
export function jittered(delayMs: number): number {
  return Math.round(delayMs * (0.8 + Math.random() * 0.4));
}

/** client-node's ListWatch ignores `continue`, so the list function pages by itself. */
async function listAllPages<T extends KubernetesObject>(
  listPage: (continueToken: string | undefined) => Promise<KubernetesListObject<T>>,
): Promise<KubernetesListObject<T>> {
  let page = await listPage(undefined);
  const items = [...page.items];
  const first = page;
  while (page.metadata?._continue) {
    page = await listPage(page.metadata._continue);
    items.push(...page.items);
  }
  // The list's resourceVersion is the first page's: every page is of that snapshot.
  return { ...first, items, metadata: { ...first.metadata, resourceVersion: first.metadata?.resourceVersion ?? '' } };
}

/**
 * What went wrong, for a person: an HTTP error with the API server's own message (a 403 names
 * the user, verb and resource); anything else — the server unreachable, TLS refused — with the
 * server's address and the causes behind client-node's "fetch failed".
 */
export function describeError(err: unknown, server: string | undefined): string {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown } | undefined;
  const status = e?.code ?? e?.statusCode;
  if (typeof status !== 'number') return `${server ?? '(no server in the kubeconfig)'}: ${errorMessageWithCauses(err)}`;
  let message = errorMessageWithCauses(err);
  if (typeof e?.body === 'string' && e.body.length < 500) {
    try {
      const body = JSON.parse(e.body) as { message?: string };
      if (body.message) message = body.message;
    } catch {
      // not JSON
    }
  }
  return `HTTP ${status}: ${message}`;
}
