import type { CoreV1Api, DiscoveryV1Api, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { ConfigDocument, Logger } from '@meridian/model';
import { ClusterState, type ClusterRegistry } from '../cluster-registry.ts';
import type { ClusterSourceStatus } from '../cluster-source.ts';
import { SyncSignal } from '../sync-signal.ts';
import type { KubeEvent, KubeKind } from '../kube-objects.ts';
import { KubePolicyWatch } from './kube-policy-watch.ts';
import { ResilientInformer, type Backoff, type InformerStatus } from './resilient-informer.ts';

export interface KubeClusterSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly registry: ClusterRegistry;
  readonly logger: Logger;
  readonly backoff: Backoff;
  /** How long a cluster may be unreachable before its endpoints are demoted as stale. */
  readonly staleAfterMs: number;
  /** Items per list page. */
  readonly pageSize?: number;
  /** Set: the cluster's policy CRDs are watched too, and every change hands their documents here. */
  readonly onConfig?: (documents: readonly ConfigDocument[]) => void;
}

const PAGE_SIZE = 500;

/**
 * One cluster read through the Kubernetes API: an informer per kind, their events applied
 * to the cluster's registry in batches (one per event-loop turn). Nothing is applied until
 * every informer has listed once, so a half-synced cluster never shows as "no endpoints".
 * Any informer failing makes the cluster Degraded (its last state keeps serving); after
 * `staleAfterMs` it becomes Stale; all informers synced again make it Synced.
 */
export class KubeClusterSource {
  private readonly registry: ClusterRegistry;
  private readonly logger: Logger;
  private readonly informers: Array<ResilientInformer<KubernetesObject>>;
  private readonly staleAfterMs: number;
  private pending: KubeEvent[] = [];
  private flushScheduled = false;
  private readonly initialSync = new SyncSignal();
  private staleTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  lastSyncedAt: number | undefined;
  /** The API server's address, for status. */
  private readonly server: string | null;
  private readonly policy: KubePolicyWatch | undefined;

  constructor(options: KubeClusterSourceOptions) {
    this.registry = options.registry;
    this.server = options.kubeConfig.getCurrentCluster()?.server ?? null;
    this.staleAfterMs = options.staleAfterMs;
    this.logger = options.logger.child({ component: 'kube-source', cluster: options.registry.id });
    // client-node is loaded when the first informer starts, not when this module is. A failure
    // is not remembered: the informer's next restart tries again.
    let apis: { core: CoreV1Api; discovery: DiscoveryV1Api } | undefined;
    const api = async () => {
      if (apis) return apis;
      const k = await import('@kubernetes/client-node');
      return (apis = { core: options.kubeConfig.makeApiClient(k.CoreV1Api), discovery: options.kubeConfig.makeApiClient(k.DiscoveryV1Api) });
    };
    const limit = options.pageSize ?? PAGE_SIZE;
    const page = (c: string | undefined) => ({ limit, ...(c ? { _continue: c } : {}) });
    const informer = <T extends KubernetesObject>(
      kind: KubeKind,
      path: string,
      listPage: (c: string | undefined) => Promise<KubernetesListObject<T>>,
    ) =>
      new ResilientInformer<T>({
        name: kind,
        kubeConfig: options.kubeConfig,
        path,
        listPage,
        backoff: options.backoff,
        logger: this.logger,
        onEvent: (type, object) => this.enqueue({ type, kind, object } as KubeEvent),
        onStateChange: () => this.updateState(),
      }) as unknown as ResilientInformer<KubernetesObject>;
    this.informers = [
      informer('Namespace', '/api/v1/namespaces', async (c) => (await api()).core.listNamespace(page(c))),
      informer('Node', '/api/v1/nodes', async (c) => (await api()).core.listNode(page(c))),
      informer('Pod', '/api/v1/pods', async (c) => (await api()).core.listPodForAllNamespaces(page(c))),
      informer('Service', '/api/v1/services', async (c) => (await api()).core.listServiceForAllNamespaces(page(c))),
      informer('EndpointSlice', '/apis/discovery.k8s.io/v1/endpointslices', async (c) =>
        (await api()).discovery.listEndpointSliceForAllNamespaces(page(c)),
      ),
    ];
    this.policy = options.onConfig
      ? new KubePolicyWatch({
          kubeConfig: options.kubeConfig,
          logger: this.logger,
          backoff: options.backoff,
          pageSize: limit,
          onConfig: options.onConfig,
          onStateChange: () => this.updateState(),
        })
      : undefined;
  }

  /** Starts every informer and returns at once; the first lists arrive later (`waitForSync`). */
  start(): Promise<void> {
    this.logger.info('connecting');
    for (const i of this.informers) i.start();
    this.policy?.start();
    return Promise.resolve();
  }

  /** Resolves once every informer has listed (or `timeoutMs` passed); true if synced. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    return this.initialSync.wait(timeoutMs);
  }

  get hasSynced(): boolean {
    return this.initialSync.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.staleTimer) clearTimeout(this.staleTimer);
    await Promise.all([...this.informers.map((i) => i.stop()), this.policy?.stop()]);
  }

  informerStatuses(): InformerStatus[] {
    return [...this.informers.map((i) => i.status()), ...(this.policy?.statuses() ?? [])];
  }

  sourceStatus(): ClusterSourceStatus {
    return { type: 'kubernetes', server: this.server, informers: this.informerStatuses() };
  }

  private enqueue(event: KubeEvent): void {
    if (this.stopped) return;
    this.pending.push(event);
    if (!this.initialSync.synced || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Callbacks for one cluster are applied in order, one batch per turn of the event loop. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.stopped) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.registry.apply(batch);
    } catch (err) {
      this.logger.error({ err, events: batch.length }, 'applying events failed');
    }
  }

  private updateState(): void {
    if (this.stopped) return;
    // Policy kinds count like the others: a cluster whose policies cannot be read is Degraded.
    const failed = [...this.informers.filter((i) => i.state === 'failed').map((i) => i.status()), ...(this.policy?.failed ?? [])];
    const allSynced = this.informers.every((i) => i.state === 'synced') && (this.policy?.synced ?? true) && (this.policy?.failed.length ?? 0) === 0;
    if (!this.initialSync.synced) {
      if (!allSynced) return;
      // Raised before the flush (events enqueued from now on are applied as they come);
      // waiters resume after it, the promises settling once this turn is over.
      this.initialSync.raise();
      this.logger.info({ events: this.pending.length }, 'initial sync complete');
      this.flush();
    }
    if (allSynced) {
      if (this.staleTimer) clearTimeout(this.staleTimer);
      this.staleTimer = undefined;
      this.lastSyncedAt = Date.now();
      this.registry.setState(ClusterState.Synced);
      return;
    }
    if (failed.length > 0 && this.registry.state !== ClusterState.Stale) {
      this.registry.setState(ClusterState.Degraded, failed.map((i) => `${i.name}: ${i.lastError ?? 'failed'}`).join('; '));
      this.staleTimer ??= setTimeout(() => {
        this.staleTimer = undefined;
        if (this.registry.state === ClusterState.Degraded) this.registry.setState(ClusterState.Stale);
      }, this.staleAfterMs);
    }
  }
}
