import type { InformerStatus } from './kube/resilient-informer.ts';
import type { ManifestSourceStatus } from './manifest-source.ts';

/** What `/debug/clusterz` shows of a cluster's source, by the kind of source. */
export type ClusterSourceStatus =
  | ({ readonly type: 'manifests' } & ManifestSourceStatus)
  | { readonly type: 'kubernetes'; readonly server: string | null; readonly informers: readonly InformerStatus[] };

/**
 * Where a cluster's objects come from (a manifest directory, a Kubernetes API server): what
 * the cluster manager needs of it, whatever it reads. A source feeds its cluster's registry.
 */
export interface ClusterSource {
  /** Starts reading. Resolves once reading has begun; `waitForSync` says when a first full read is in. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A first full read of the cluster is in the registry. */
  readonly hasSynced: boolean;
  /** Resolves true once synced, false when `timeoutMs` passed first. */
  waitForSync(timeoutMs: number): Promise<boolean>;
  sourceStatus(): ClusterSourceStatus;
}
