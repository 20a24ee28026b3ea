// The small vocabulary shared by the kube-api modules. Objects are kept as plain
// JSON (not client-node model classes) because the server must round-trip any
// field a client sends, including ones the typed models do not know.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/**
 * What the programmatic API accepts: any object with the wire shape, including
 * client-node model objects (their Dates become strings, as on the wire).
 */
export interface KubeObjectInput {
  apiVersion?: string;
  kind?: string;
  metadata?: object;
}

/** A `kind: Status` body, the shape every API error takes on the wire. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; uid?: string };
}

/** Expected failures are values: handlers turn them into HTTP responses at the edge. */
export type ApiResult<T> = { ok: true; value: T } | { ok: false; status: StatusBody };

export const WatchEventType = {
  Added: 'ADDED',
  Modified: 'MODIFIED',
  Deleted: 'DELETED',
  Bookmark: 'BOOKMARK',
  Error: 'ERROR',
} as const;
export type WatchEventType = (typeof WatchEventType)[keyof typeof WatchEventType];

/** Kubernetes authorization verbs, as RBAC spells them. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: readonly string[];
}
