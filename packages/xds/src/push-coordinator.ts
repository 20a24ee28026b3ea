import type { Logger, PushRequest, XdsUpdater } from '@meridian/model';
import type { AdsServer } from './ads-server.ts';
import { debounce, type Clock, type DebounceOptions, type Debouncer } from './debounce.ts';
import type { ResourceSource } from './resource-source.ts';

export interface PushCoordinatorOptions {
  readonly source: ResourceSource;
  readonly ads: AdsServer;
  readonly debounce: DebounceOptions;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly onPush?: (request: PushRequest, connections: number) => void;
  /** A push has been handed to every connection (built and written, or queued behind backpressure). */
  readonly onPushed?: (request: PushRequest, seconds: number) => void;
}

/** The last push as `/debug/syncz` shows it. */
export interface PushSummary {
  readonly at: string;
  readonly kind: string;
  /** Changed objects the push names (0: everything). */
  readonly configs: number;
  readonly reasons: readonly string[];
  /** Connections the push was handed to. */
  readonly connections: number;
  /** Until every connection has been handed the push: undefined while it is going on. */
  durationMs: number | undefined;
}

/** How many pushes `recentPushes` keeps, newest last: enough for a timeline, bounded memory. */
export const RECENT_PUSHES = 50;

/**
 * The xDS side of the `XdsUpdater` port: changes from discovery are debounced, stale cache
 * entries dropped, and the merged change handed to every connection.
 */
export class PushCoordinator implements XdsUpdater {
  private readonly debouncer: Debouncer;
  private readonly source: ResourceSource;
  private readonly ads: AdsServer;
  private readonly logger: Logger;
  private readonly onPush: ((request: PushRequest, connections: number) => void) | undefined;
  private readonly onPushed: ((request: PushRequest, seconds: number) => void) | undefined;
  pushes = 0;
  lastPush: PushSummary | undefined;
  /** The last RECENT_PUSHES pushes, oldest first. */
  readonly recentPushes: PushSummary[] = [];

  constructor(options: PushCoordinatorOptions) {
    this.source = options.source;
    this.ads = options.ads;
    this.logger = options.logger.child({ component: 'push' });
    this.onPush = options.onPush;
    this.onPushed = options.onPushed;
    this.debouncer = debounce(options.debounce, (request) => this.push(request), options.clock);
  }

  configUpdate(request: PushRequest): void {
    this.debouncer.add(request);
  }

  stop(): void {
    this.debouncer.stop();
  }

  private push(given: PushRequest): void {
    this.pushes++;
    const request = this.source.invalidate(given);
    const connections = this.ads.list().length;
    const lastPush: PushSummary = {
      at: new Date().toISOString(),
      kind: request.kind,
      configs: request.configs.length,
      reasons: request.reasons,
      connections,
      durationMs: undefined,
    };
    this.lastPush = lastPush;
    this.recentPushes.push(lastPush);
    if (this.recentPushes.length > RECENT_PUSHES) this.recentPushes.shift();
    this.logger.info(
      {
        push: this.pushes,
        kind: request.kind,
        configs: request.configs.length === 0 ? 'all' : request.configs.length,
        connections,
        reasons: request.reasons,
        debouncedMs: request.since === undefined ? undefined : Date.now() - request.since,
      },
      'push',
    );
    this.onPush?.(request, connections);
    const started = performance.now();
    // Includes waiting for an earlier push still being handed out: pushes never overtake.
    void this.ads.push(request).then(() => {
      const ms = performance.now() - started;
      lastPush.durationMs = Math.round(ms * 10) / 10;
      this.onPushed?.(request, ms / 1000);
    });
  }
}
