import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';

/** The Kubernetes kinds a cluster source feeds into its registry. */
export const KubeKind = {
  Service: 'Service',
  EndpointSlice: 'EndpointSlice',
  Pod: 'Pod',
  Node: 'Node',
  Namespace: 'Namespace',
  WorkloadEntry: 'WorkloadEntry',
} as const;
export type KubeKind = (typeof KubeKind)[keyof typeof KubeKind];

/**
 * A workload outside Kubernetes (a VM, a bare-metal host), Meridian's own kind after Istio's
 * WorkloadEntry: it joins every Service in its namespace whose selector its labels match.
 */
export interface WorkloadEntry {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    address?: string;
    /** Service port name → the port the workload listens on; default the Service's targetPort. */
    ports?: Record<string, number>;
    labels?: Record<string, string>;
    network?: string;
    /** `region/zone/subzone`. */
    locality?: string;
    serviceAccount?: string;
  };
}

export interface KubeObjectOfKind {
  Service: V1Service;
  EndpointSlice: V1EndpointSlice;
  Pod: V1Pod;
  Node: V1Node;
  Namespace: V1Namespace;
  WorkloadEntry: WorkloadEntry;
}

/** The apiVersion each kind is read at; other versions of a kind are reported, not guessed at. */
export const KIND_API_VERSION: Record<KubeKind, string> = {
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Pod: 'v1',
  Node: 'v1',
  Namespace: 'v1',
  WorkloadEntry: 'meridian.dev/v1alpha1',
};

export type KubeObject = KubeObjectOfKind[KubeKind];

export type KubeEvent = {
  [K in KubeKind]: { readonly type: 'upsert' | 'delete'; readonly kind: K; readonly object: KubeObjectOfKind[K] };
}[KubeKind];

/** `namespace/name`, or `name` for cluster-scoped kinds. */
export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const name = obj.metadata?.name ?? '';
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

export function isKubeKind(kind: unknown): kind is KubeKind {
  return typeof kind === 'string' && Object.hasOwn(KIND_API_VERSION, kind);
}
