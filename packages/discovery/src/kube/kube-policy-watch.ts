import type { CustomObjectsApi, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { ConfigDocument, Logger } from '@meridian/model';
import { describeError, jittered, ResilientInformer, InformerState, type Backoff, type InformerStatus } from './resilient-informer.ts';

/** A policy kind as the API serves it (its CRD's group, served version and plural). */
export interface PolicyResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
}

/** The kinds `@meridian/policy` reads, at the version Istio and the Gateway API serve as storage. */
export const POLICY_RESOURCES: readonly PolicyResource[] = [
  { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices', kind: 'VirtualService' },
  { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules', kind: 'DestinationRule' },
  { group: 'networking.istio.io', version: 'v1', plural: 'serviceentries', kind: 'ServiceEntry' },
  { group: 'networking.istio.io', version: 'v1', plural: 'sidecars', kind: 'Sidecar' },
  { group: 'security.istio.io', version: 'v1', plural: 'peerauthentications', kind: 'PeerAuthentication' },
  { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies', kind: 'AuthorizationPolicy' },
  { group: 'security.istio.io', version: 'v1', plural: 'requestauthentications', kind: 'RequestAuthentication' },
  { group: 'telemetry.istio.io', version: 'v1', plural: 'telemetries', kind: 'Telemetry' },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute' },
  { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'grpcroutes', kind: 'GRPCRoute' },
];

/** How often a kind whose CRD is not installed is looked for again. */
const ABSENT_RECHECK_MS = 60_000;

export interface KubePolicyWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly backoff: Backoff;
  readonly pageSize: number;
  /** Every policy document the cluster holds, after each change (once every kind has listed). */
  readonly onConfig: (documents: readonly ConfigDocument[]) => void;
  readonly onStateChange: () => void;
  readonly resources?: readonly PolicyResource[];
}

/** Where one kind stands: watched (its informer's state), or not served by this cluster. */
type KindWatch = {
  readonly resource: PolicyResource;
  informer: ResilientInformer<KubernetesObject> | undefined;
  absent: boolean;
  checked: boolean;
  /** Why the last look failed (the API unreachable, a 403), until one succeeds; retried with backoff. */
  error: { message: string; at: number; delayMs: number; attempts: number } | undefined;
};

/**
 * The policy CRDs of one cluster, watched like its Services: an informer per kind, paged
 * lists, watch resumption, backoff. A cluster without Istio's or the Gateway API's CRDs is
 * normal: a kind whose list answers 404 counts as synced and empty, and is looked for again
 * every minute, so installing the CRDs later is picked up. Nothing is handed on until every
 * kind has listed once, so a half-read cluster never looks as if its policies were deleted.
 */
export class KubePolicyWatch {
  private readonly options: KubePolicyWatchOptions;
  private readonly logger: Logger;
  private readonly kinds: KindWatch[];
  private readonly objects = new Map<string, ConfigDocument>();
  private api: CustomObjectsApi | undefined;
  private flushScheduled = false;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: KubePolicyWatchOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'kube-policy' });
    this.kinds = (options.resources ?? POLICY_RESOURCES).map((resource) => ({ resource, informer: undefined, absent: false, checked: false, error: undefined }));
  }

  start(): void {
    for (const k of this.kinds) void this.look(k);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(this.kinds.map((k) => k.informer?.stop()));
  }

  /** Every kind listed once (or known absent). */
  get synced(): boolean {
    return this.kinds.every((k) => k.checked && (k.absent || k.informer?.hasSynced === true));
  }

  get failed(): InformerStatus[] {
    return this.statuses().filter((s) => s.state === InformerState.Failed);
  }

  statuses(): InformerStatus[] {
    return this.kinds.map((k) => {
      if (k.informer) return k.informer.status();
      const state = k.absent ? InformerState.Absent : k.error ? InformerState.Failed : InformerState.Starting;
      const error = k.error ? { lastError: k.error.message, lastErrorAt: new Date(k.error.at).toISOString() } : { lastError: null, lastErrorAt: null };
      return { name: k.resource.kind, state, syncedOnce: k.absent, restarts: k.error?.attempts ?? 0, ...error };
    });
  }

  /**
   * Whether the API serves the kind: one list page; a 404 means its CRD is not installed. Only
   * a kind that answers gets an informer, whose own backoff then keeps it going.
   */
  private async look(k: KindWatch): Promise<void> {
    if (this.stopped) return;
    try {
      await this.listPage(k.resource, undefined, 1);
    } catch (err) {
      if (statusOf(err) !== 404) {
        // Unreachable, forbidden, failing: looked at again with backoff, reported meanwhile.
        const delayMs = Math.min((k.error?.delayMs ?? this.options.backoff.initialMs / 2) * 2, this.options.backoff.maxMs);
        k.error = { message: describeError(err, this.options.kubeConfig.getCurrentCluster()?.server), at: Date.now(), delayMs, attempts: (k.error?.attempts ?? 0) + 1 };
        this.options.onStateChange();
        this.later(() => void this.look(k), jittered(delayMs));
        return;
      }
      if (!k.absent) this.logger.info({ kind: k.resource.kind, group: k.resource.group }, 'policy kind not served by this cluster (CRD not installed); looking again every minute');
      k.error = undefined;
      k.absent = true;
      k.checked = true;
      this.options.onStateChange();
      this.scheduleFlush();
      this.later(() => void this.look(k), ABSENT_RECHECK_MS);
      return;
    }
    if (this.stopped) return;
    k.error = undefined;
    k.absent = false;
    k.checked = true;
    const { group, version, plural, kind } = k.resource;
    k.informer = new ResilientInformer<KubernetesObject>({
      name: kind,
      kubeConfig: this.options.kubeConfig,
      path: `/apis/${group}/${version}/${plural}`,
      listPage: (c) => this.listPage(k.resource, c, this.options.pageSize),
      backoff: this.options.backoff,
      logger: this.logger,
      onEvent: (type, object) => {
        const key = `${kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
        if (type === 'delete') this.objects.delete(key);
        else this.objects.set(key, { value: object, origin: `${kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''} (resourceVersion ${object.metadata?.resourceVersion ?? '?'})` });
        this.scheduleFlush();
      },
      onStateChange: () => {
        this.options.onStateChange();
        this.scheduleFlush();
      },
    });
    k.informer.start();
  }

  private async listPage(r: PolicyResource, continueToken: string | undefined, limit: number): Promise<KubernetesListObject<KubernetesObject>> {
    if (!this.api) {
      const k = await import('@kubernetes/client-node');
      this.api = this.options.kubeConfig.makeApiClient(k.CustomObjectsApi);
    }
    const list = (await this.api.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, limit, ...(continueToken ? { _continue: continueToken } : {}) })) as KubernetesListObject<KubernetesObject>;
    // Items of a custom resource list carry their apiVersion and kind; older servers may not.
    return { ...list, items: list.items.map((o) => ({ apiVersion: `${r.group}/${r.version}`, kind: r.kind, ...o })) };
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.stopped) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.stopped || !this.synced) return;
      this.options.onConfig([...this.objects.keys()].sort().map((k) => this.objects.get(k) as ConfigDocument));
    });
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  const code = e?.code ?? e?.statusCode;
  return typeof code === 'number' ? code : undefined;
}
