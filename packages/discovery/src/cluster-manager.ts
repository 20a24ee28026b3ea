import type { KubeConfig } from '@kubernetes/client-node';
import { MeridianError, errorMessageWithCauses, type ClusterId, type ConfigDocument, type ConfigUpdater, type Logger } from '@meridian/model';
import type { AggregateRegistry } from './aggregate.ts';
import { ClusterRegistry, type ClusterStatus } from './cluster-registry.ts';
import { DiscoveryErrorCode } from './errors.ts';
import { missingPermissions } from './kube/access-review.ts';
import { tokenExpiry } from './kube/kubeconfig-policy.ts';
import { KubeClusterSource } from './kube/kube-cluster-source.ts';
import type { Backoff } from './kube/resilient-informer.ts';
import { ManifestDirectorySource } from './manifest-source.ts';
import type { ClusterSource, ClusterSourceStatus } from './cluster-source.ts';

export type ClusterSourceSpec =
  | { readonly type: 'manifests'; readonly directory: string }
  | { readonly type: 'kubernetes'; readonly kubeConfig: KubeConfig };

export interface ClusterSpec {
  readonly id: ClusterId;
  /** Network of the cluster; without it, the system namespace's network label, else the ID. */
  readonly network?: string;
  readonly source: ClusterSourceSpec;
  /** Where the cluster came from, for operators: `config`, `in-cluster`, `secret:<ns>/<name>`. */
  readonly origin: string;
}

export interface ClusterManagerOptions {
  readonly aggregate: AggregateRegistry;
  readonly domainSuffix: string;
  /** Meridian's namespace; its `topology.istio.io/network` label names a cluster's network. */
  readonly systemNamespace: string;
  readonly staleAfterMs: number;
  readonly backoff: Backoff;
  readonly logger: Logger;
  /** Where each cluster's configuration (policy) documents go: from manifest directories, and from the policy CRDs of Kubernetes clusters `policyFrom` names. */
  readonly config?: ConfigUpdater;
  /** Whether a Kubernetes cluster's policy CRDs are read (config `policy.sources`); default: every cluster. */
  readonly policyFrom?: (clusterId: string) => boolean;
}

interface ManagedCluster {
  readonly spec: ClusterSpec;
  readonly registry: ClusterRegistry;
  readonly source: ClusterSource;
  readonly addedAt: number;
  missingPermissions?: string[];
  credentialExpiry?: string;
}

export interface ManagedClusterStatus extends ClusterStatus {
  readonly origin: string;
  readonly addedAt: string;
  readonly source: ClusterSourceStatus;
  readonly missingPermissions: readonly string[] | null;
  readonly credentialExpiry: string | null;
  /** A rotated connection that is syncing before it replaces this one. */
  readonly pendingReplacement: boolean;
}

/**
 * Owns every cluster's registry and source, whether configured or added at run time from a
 * remote secret: add, replace (new credentials serve only once synced), remove.
 */
export class ClusterManager {
  private readonly options: ClusterManagerOptions;
  private readonly logger: Logger;
  private readonly clusters = new Map<ClusterId, ManagedCluster>();
  private readonly pending = new Map<ClusterId, ManagedCluster>();

  constructor(options: ClusterManagerOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'cluster-manager' });
  }

  has(id: ClusterId): boolean {
    return this.clusters.has(id);
  }

  ids(): ClusterId[] {
    return [...this.clusters.keys()].sort();
  }

  /** Adds a cluster and starts reading it; its endpoints appear once it has synced. */
  async add(spec: ClusterSpec): Promise<void> {
    if (this.clusters.has(spec.id)) {
      throw new MeridianError(DiscoveryErrorCode.ClusterExists, `cluster ${spec.id} already exists (${this.clusters.get(spec.id)?.spec.origin})`);
    }
    const managed = this.create(spec);
    this.clusters.set(spec.id, managed);
    this.options.aggregate.addCluster(managed.registry);
    this.logger.info({ cluster: spec.id, origin: spec.origin, source: spec.source.type }, 'cluster added');
    await this.startSource(managed);
  }

  /**
   * Connects with new settings (rotated credentials) next to the old connection; the new
   * one takes over only when it has synced, so clients never see the cluster empty.
   */
  async replace(spec: ClusterSpec): Promise<void> {
    const current = this.clusters.get(spec.id);
    if (!current) return this.add(spec);
    await this.pending.get(spec.id)?.source.stop();
    const next = this.create(spec);
    this.pending.set(spec.id, next);
    this.logger.info({ cluster: spec.id, origin: spec.origin }, 'cluster reconnecting with new settings');
    await this.startSource(next);
    const synced = await next.source.waitForSync(2 ** 31 - 1);
    if (this.pending.get(spec.id) !== next) return; // superseded or removed meanwhile
    this.pending.delete(spec.id);
    if (!synced) return;
    this.clusters.set(spec.id, next);
    this.options.aggregate.replaceCluster(next.registry);
    await current.source.stop();
    this.logger.info({ cluster: spec.id }, 'cluster switched to new settings');
  }

  async remove(id: ClusterId): Promise<void> {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    await pending?.source.stop();
    const managed = this.clusters.get(id);
    if (!managed) return;
    this.clusters.delete(id);
    this.options.aggregate.removeCluster(id);
    this.options.config?.removeConfig(id);
    await managed.source.stop();
    this.logger.info({ cluster: id }, 'cluster removed');
  }

  /** Resolves when every named cluster has synced or `timeoutMs` passed; returns those not synced. */
  async waitForSync(ids: readonly ClusterId[], timeoutMs: number): Promise<ClusterId[]> {
    const results = await Promise.all(
      ids.map(async (id) => {
        const source = this.clusters.get(id)?.source;
        const ok = source ? await source.waitForSync(timeoutMs) : false;
        return ok ? undefined : id;
      }),
    );
    return results.filter((id): id is ClusterId => id !== undefined);
  }

  /** The credentials Meridian reads a cluster with (for TokenReview in that cluster). */
  kubeConfigOf(id: ClusterId): KubeConfig | undefined {
    const spec = this.clusters.get(id)?.spec;
    return spec?.source.type === 'kubernetes' ? spec.source.kubeConfig : undefined;
  }

  hasSynced(id: ClusterId): boolean {
    const source = this.clusters.get(id)?.source;
    return source?.hasSynced ?? false;
  }

  statuses(): ManagedClusterStatus[] {
    return this.ids().flatMap((id) => {
      const m = this.clusters.get(id);
      return m ? [this.statusOf(m)] : [];
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pending.values(), ...this.clusters.values()].map((m) => m.source.stop()));
  }

  private create(spec: ClusterSpec): ManagedCluster {
    const registry = new ClusterRegistry({
      cluster: spec.id,
      network: spec.network ?? spec.id,
      networkFromNamespace: spec.network === undefined ? this.options.systemNamespace : undefined,
      domainSuffix: this.options.domainSuffix,
      logger: this.options.logger,
    });
    const source: ClusterSource =
      spec.source.type === 'manifests'
        ? new ManifestDirectorySource({
            directory: spec.source.directory,
            registry,
            logger: this.options.logger,
            ...(this.options.config ? { onConfig: (documents: readonly ConfigDocument[]) => this.options.config?.replaceConfig(spec.id, documents) } : {}),
          })
        : new KubeClusterSource({
            kubeConfig: spec.source.kubeConfig,
            registry,
            logger: this.options.logger,
            backoff: this.options.backoff,
            staleAfterMs: this.options.staleAfterMs,
            ...(this.options.config && (this.options.policyFrom?.(spec.id) ?? true)
              ? { onConfig: (documents: readonly ConfigDocument[]) => this.options.config?.replaceConfig(spec.id, documents) }
              : {}),
          });
    const expiry = spec.source.type === 'kubernetes' ? tokenExpiry(spec.source.kubeConfig) : undefined;
    return { spec, registry, source, addedAt: Date.now(), ...(expiry ? { credentialExpiry: expiry.toISOString() } : {}) };
  }

  private async startSource(managed: ManagedCluster): Promise<void> {
    await managed.source.start();
    const { spec } = managed;
    if (spec.source.type !== 'kubernetes') return;
    // What the credentials may read, reported at add time; a failure here is not fatal.
    missingPermissions(spec.source.kubeConfig, this.options.systemNamespace).then(
      (missing) => {
        managed.missingPermissions = missing;
        if (missing.length > 0) {
          this.logger.error({ cluster: spec.id, missing }, 'cluster credentials lack permissions Meridian needs');
        }
      },
      (err: unknown) => this.logger.warn({ cluster: spec.id, error: errorMessageWithCauses(err) }, 'could not review cluster permissions'),
    );
  }

  private statusOf(m: ManagedCluster): ManagedClusterStatus {
    const base = m.registry.status();
    return {
      ...base,
      origin: m.spec.origin,
      addedAt: new Date(m.addedAt).toISOString(),
      source: m.source.sourceStatus(),
      missingPermissions: m.missingPermissions ?? null,
      credentialExpiry: m.credentialExpiry ?? null,
      pendingReplacement: this.pending.has(m.spec.id),
    };
  }
}
