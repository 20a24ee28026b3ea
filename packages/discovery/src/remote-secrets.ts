import { createHash } from 'node:crypto';
import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { errorMessage, type ClusterId, type Logger } from '@meridian/model';
import type { ClusterManager } from './cluster-manager.ts';
import { loadKubeconfigText, type KubeconfigPolicy } from './kube/kubeconfig-policy.ts';
import { ResilientInformer, type Backoff, type InformerStatus } from './kube/resilient-informer.ts';

/** Labels that mark a Secret as a remote secret (ours, and Istio's for migration). */
export const REMOTE_SECRET_LABELS: Readonly<Record<string, string>> = {
  'meridian.dev/multi-cluster': 'true',
  'istio/multiCluster': 'true',
};

export interface RemoteSecretControllerOptions {
  /** The primary cluster, where the secrets live. */
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly manager: ClusterManager;
  readonly policy: KubeconfigPolicy;
  readonly backoff: Backoff;
  readonly logger: Logger;
}

interface SecretState {
  /** Cluster ID → hash of its kubeconfig, for what this secret currently provides. */
  readonly clusters: Map<ClusterId, string>;
  readonly errors: Map<ClusterId, string>;
}

export interface RemoteSecretStatus {
  readonly secret: string;
  readonly clusters: ReadonlyArray<{ readonly id: ClusterId; readonly error: string | null }>;
}

/**
 * Watches remote secrets in Meridian's namespace: each data key is a cluster ID, each value
 * a kubeconfig. A key added adds the cluster, a changed value reconnects it (the new
 * connection serves once synced), a key or secret removed removes it. Kubeconfigs are
 * checked against the policy first; a rejected one is reported with the offending field.
 */
export class RemoteSecretController {
  private readonly options: RemoteSecretControllerOptions;
  private readonly logger: Logger;
  private readonly informer: ResilientInformer<V1Secret>;
  private readonly secrets = new Map<string, SecretState>();
  /** Cluster ID → the secret that owns it. */
  private readonly owners = new Map<ClusterId, string>();
  /** Changes are applied one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: RemoteSecretControllerOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'remote-secrets', namespace: options.namespace });
    let core: CoreV1Api | undefined;
    const api = async () => (core ??= options.kubeConfig.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api));
    this.informer = new ResilientInformer<V1Secret>({
      name: 'Secret',
      kubeConfig: options.kubeConfig,
      path: `/api/v1/namespaces/${options.namespace}/secrets`,
      listPage: async (c) => (await api()).listNamespacedSecret({ namespace: options.namespace, limit: 500, ...(c ? { _continue: c } : {}) }),
      onEvent: (type, secret) => this.enqueue(() => (type === 'delete' || !isRemoteSecret(secret) ? this.removeSecret(secret) : this.applySecret(secret))),
      onStateChange: () => undefined,
      backoff: options.backoff,
      logger: this.logger,
    });
  }

  start(): void {
    this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    await this.queue;
  }

  /** Resolves when the changes seen so far have been applied (tests, readiness). */
  idle(): Promise<void> {
    return this.queue;
  }

  status(): { informer: InformerStatus; secrets: RemoteSecretStatus[] } {
    return {
      informer: this.informer.status(),
      secrets: [...this.secrets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([secret, state]) => ({
        secret,
        clusters: [...new Set([...state.clusters.keys(), ...state.errors.keys()])].sort().map((id) => ({ id, error: state.errors.get(id) ?? null })),
      })),
    };
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((err: unknown) => this.logger.error({ err }, 'remote secret handling failed'));
  }

  private async applySecret(secret: V1Secret): Promise<void> {
    const name = secretName(secret);
    const previous = this.secrets.get(name) ?? { clusters: new Map<ClusterId, string>(), errors: new Map<ClusterId, string>() };
    const next: SecretState = { clusters: new Map(), errors: new Map() };
    const data = secret.data ?? {};
    for (const [id, value] of Object.entries(data)) {
      const text = Buffer.from(value, 'base64').toString('utf8');
      const hash = createHash('sha256').update(text).digest('hex');
      const owner = this.owners.get(id);
      if ((owner && owner !== name) || (!owner && this.options.manager.has(id))) {
        next.errors.set(id, `cluster ID ${id} is already provided by ${owner ?? 'the config file'}`);
        this.logger.error({ secret: name, cluster: id, owner: owner ?? 'config' }, 'remote secret names a cluster that already exists; ignored');
        continue;
      }
      if (previous.clusters.get(id) === hash) {
        next.clusters.set(id, hash);
        continue;
      }
      let kubeConfig: KubeConfig;
      try {
        kubeConfig = await loadKubeconfigText(text, this.options.policy);
      } catch (err) {
        next.errors.set(id, errorMessage(err));
        this.logger.error({ secret: name, cluster: id, reason: errorMessage(err) }, 'remote secret kubeconfig rejected');
        if (previous.clusters.has(id)) next.clusters.set(id, previous.clusters.get(id) ?? hash); // keep serving the old one
        continue;
      }
      next.clusters.set(id, hash);
      this.owners.set(id, name);
      const spec = { id, source: { type: 'kubernetes' as const, kubeConfig }, origin: `secret:${name}` };
      if (previous.clusters.has(id)) void this.options.manager.replace(spec).catch((err: unknown) => this.logger.error({ err, cluster: id }, 'reconnect failed'));
      else await this.options.manager.add(spec);
    }
    for (const id of previous.clusters.keys()) {
      if (!next.clusters.has(id)) await this.removeCluster(id, name);
    }
    this.secrets.set(name, next);
  }

  private async removeSecret(secret: V1Secret): Promise<void> {
    const name = secretName(secret);
    const state = this.secrets.get(name);
    if (!state) return;
    this.secrets.delete(name);
    for (const id of state.clusters.keys()) await this.removeCluster(id, name);
  }

  private async removeCluster(id: ClusterId, secret: string): Promise<void> {
    if (this.owners.get(id) !== secret) return;
    this.owners.delete(id);
    this.logger.info({ secret, cluster: id }, 'remote cluster removed with its secret');
    await this.options.manager.remove(id);
  }
}

export function isRemoteSecret(secret: V1Secret): boolean {
  const labels = secret.metadata?.labels ?? {};
  return Object.entries(REMOTE_SECRET_LABELS).some(([k, v]) => labels[k] === v);
}

function secretName(secret: V1Secret): string {
  return `${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`;
}
