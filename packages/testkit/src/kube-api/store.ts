// The etcd-like heart of the server: objects per resource type, one global,
// monotonically increasing resourceVersion, and a bounded history of changes
// used to replay watches and to serve consistent list pages. Everything here is
// synchronous, so a change and its notification to watchers can never interleave
// with another request.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { applyDefaults, ClusterIpAllocator } from './defaults.ts';
import { apiVersionOf, groupResource, type ResourceType } from './resources.ts';
import { fail, ok, Statuses } from './status.ts';
import type { ApiResult, KubeObject } from './types.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly rv: number;
  readonly type: ChangeType;
  readonly rt: ResourceType;
  /** The object as it is after the change; for DELETED, the last state stamped with the deletion's RV. */
  readonly object: KubeObject;
  /** The object before the change (MODIFIED/DELETED): lets selector-filtered watches and snapshots work. */
  readonly previous?: KubeObject;
}

export type StoreListener = (event: StoreEvent) => void;

export interface ObjectStoreOptions {
  /** First resourceVersion handed out is this + 1. Not 0 so clients cannot mistake RVs for counters from 1. */
  initialResourceVersion?: number;
  /** How many changes are kept for watch replay and list snapshots before they are compacted away. */
  historySize?: number;
  now?: () => Date;
}

/** Which part of an object an update may change, as the main resource and the status subresource differ. */
export type UpdateScope = 'all' | 'main' | 'status';

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The parts an update compares to decide whether `generation` moves: everything but metadata and status. */
function specOf(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export class ObjectStore {
  #rv: number;
  #compactedRv: number;
  readonly #historySize: number;
  #history: StoreEvent[] = [];
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  /** The type of each bucket, so a namespace deletion can find namespaced kinds. */
  readonly #types = new Map<string, ResourceType>();
  readonly #listeners = new Set<StoreListener>();
  readonly #now: () => Date;
  readonly #ips = new ClusterIpAllocator();

  constructor(options: ObjectStoreOptions = {}) {
    this.#rv = options.initialResourceVersion ?? 100;
    this.#compactedRv = this.#rv;
    this.#historySize = Math.max(1, options.historySize ?? 1000);
    this.#now = options.now ?? (() => new Date());
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** Changes at or before this RV are gone: watching or paging from before it gets 410. */
  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.#bucket(rt).get(keyOf(rt.namespaced ? namespace : undefined, name));
    return obj === undefined ? undefined : structuredClone(obj);
  }

  /**
   * Objects of one type sorted by key (namespace, then name, as etcd orders them),
   * either now or as they were at `atRv` (rebuilt by undoing later history).
   */
  list(rt: ResourceType, namespace: string | undefined, atRv?: number): ApiResult<{ items: [string, KubeObject][]; rv: number }> {
    const current = this.#bucket(rt);
    let snapshot: Map<string, KubeObject> = current;
    const rv = atRv ?? this.#rv;
    if (atRv !== undefined && atRv !== this.#rv) {
      if (atRv < this.#compactedRv) {
        return fail(Statuses.expired(`too old resource version: ${atRv} (${this.#compactedRv})`));
      }
      if (atRv > this.#rv) return fail(Statuses.tooLargeResourceVersion(atRv, this.#rv));
      snapshot = new Map(current);
      const gr = groupResource(rt);
      for (let i = this.#history.length - 1; i >= 0; i--) {
        const e = this.#history[i];
        if (e === undefined || e.rv <= atRv) break;
        if (groupResource(e.rt) !== gr) continue;
        const key = keyOf(e.object.metadata?.namespace, e.object.metadata?.name ?? '');
        if (e.type === 'ADDED' || e.previous === undefined) snapshot.delete(key);
        else snapshot.set(key, e.previous);
      }
    }
    const items = [...snapshot.entries()]
      .filter(([, o]) => !rt.namespaced || !namespace || o.metadata?.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return ok({ items, rv });
  }

  /** Changes after `rv`, oldest first, or 410 when some of them were compacted away. */
  eventsAfter(rv: number): ApiResult<readonly StoreEvent[]> {
    if (rv < this.#compactedRv) {
      return fail(Statuses.expired(`too old resource version: ${rv} (${this.#compactedRv})`));
    }
    return ok(this.#history.filter((e) => e.rv > rv));
  }

  create(rt: ResourceType, input: KubeObject, namespace?: string): ApiResult<KubeObject> {
    const obj = structuredClone(input);
    const meta = { ...obj.metadata };
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    if (!meta.name) {
      return fail(Statuses.invalid(`${rt.kind} "" is invalid: metadata.name: Required value: name or generateName is required`));
    }
    const ns = rt.namespaced ? (namespace ?? meta.namespace ?? 'default') : undefined;
    if (ns === undefined) delete meta.namespace;
    else meta.namespace = ns;
    const bucket = this.#bucket(rt);
    const key = keyOf(ns, meta.name);
    if (bucket.has(key)) return fail(Statuses.alreadyExists({ group: rt.group, resource: rt.resource, name: meta.name }));
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp(this.#now());
    meta.generation = 1;
    delete meta.deletionTimestamp;
    obj.metadata = meta;
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    applyDefaults(rt, obj, undefined, this.#ips);
    meta.resourceVersion = String(++this.#rv);
    bucket.set(key, obj);
    this.#record({ rv: this.#rv, type: 'ADDED', rt, object: obj });
    return ok(structuredClone(obj));
  }

  /**
   * Replaces an object. A set metadata.resourceVersion must match (optimistic
   * concurrency); an update that changes nothing is a no-op that keeps the RV,
   * as on a real API server.
   */
  update(rt: ResourceType, input: KubeObject, scope: UpdateScope, namespace?: string): ApiResult<KubeObject> {
    const name = input.metadata?.name ?? '';
    const ns = rt.namespaced ? (namespace ?? input.metadata?.namespace ?? 'default') : undefined;
    const bucket = this.#bucket(rt);
    const key = keyOf(ns, name);
    const existing = bucket.get(key);
    const target = { group: rt.group, resource: rt.resource, name };
    if (existing === undefined) return fail(Statuses.notFound(target));
    const sentRv = input.metadata?.resourceVersion;
    if (sentRv && sentRv !== existing.metadata?.resourceVersion) {
      return fail(Statuses.conflict(target, 'the object has been modified; please apply your changes to the latest version and try again'));
    }
    let next: KubeObject;
    if (scope === 'status') {
      next = { ...structuredClone(existing), status: structuredClone(input['status']) };
    } else {
      next = structuredClone(input);
      // The main resource of a kind with a status subresource cannot change status.
      if (scope === 'main' && 'status' in existing) next['status'] = structuredClone(existing['status']);
      else if (scope === 'main') delete next['status'];
    }
    const meta = { ...next.metadata };
    const oldMeta = existing.metadata ?? {};
    meta.name = name;
    if (ns === undefined) delete meta.namespace;
    else meta.namespace = ns;
    // Server-owned fields cannot be changed by clients.
    meta.uid = oldMeta.uid;
    meta.creationTimestamp = oldMeta.creationTimestamp;
    meta.generation = oldMeta.generation ?? 1;
    meta.resourceVersion = oldMeta.resourceVersion;
    next.metadata = meta;
    next.apiVersion = apiVersionOf(rt);
    next.kind = rt.kind;
    applyDefaults(rt, next, existing, this.#ips);
    if (isDeepStrictEqual(next, existing)) return ok(structuredClone(existing));
    if (!isDeepStrictEqual(specOf(next), specOf(existing))) meta.generation = (oldMeta.generation ?? 1) + 1;
    meta.resourceVersion = String(++this.#rv);
    bucket.set(key, next);
    this.#record({ rv: this.#rv, type: 'MODIFIED', rt, object: next, previous: existing });
    return ok(structuredClone(next));
  }

  delete(rt: ResourceType, namespace: string | undefined, name: string, preconditions: Preconditions = {}): ApiResult<KubeObject> {
    const ns = rt.namespaced ? namespace : undefined;
    const bucket = this.#bucket(rt);
    const key = keyOf(ns, name);
    const existing = bucket.get(key);
    const target = { group: rt.group, resource: rt.resource, name };
    if (existing === undefined) return fail(Statuses.notFound(target));
    if (preconditions.uid && preconditions.uid !== existing.metadata?.uid) {
      return fail(Statuses.conflict(target, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${existing.metadata?.uid ?? ''}`));
    }
    if (preconditions.resourceVersion && preconditions.resourceVersion !== existing.metadata?.resourceVersion) {
      return fail(
        Statuses.conflict(
          target,
          `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${existing.metadata?.resourceVersion ?? ''}`,
        ),
      );
    }
    if (rt.group === '' && rt.resource === 'namespaces') this.#deleteNamespaceContents(name);
    bucket.delete(key);
    const gone: KubeObject = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(++this.#rv) } };
    this.#record({ rv: this.#rv, type: 'DELETED', rt, object: gone, previous: existing });
    return ok(structuredClone(gone));
  }

  /** Forgets all history: any watch or continue token from before now gets 410. */
  compact(): void {
    this.#history = [];
    this.#compactedRv = this.#rv;
  }

  // A real namespace goes through Terminating while its contents are removed;
  // here the contents go at once, so watchers see the same DELETED events, sooner.
  #deleteNamespaceContents(namespace: string): void {
    for (const [, entry] of this.#types) {
      if (!entry.namespaced) continue;
      const bucket = this.#bucket(entry);
      for (const obj of [...bucket.values()]) {
        if (obj.metadata?.namespace === namespace) this.delete(entry, namespace, obj.metadata.name ?? '');
      }
    }
  }

  #bucket(rt: ResourceType): Map<string, KubeObject> {
    const gr = groupResource(rt);
    let bucket = this.#objects.get(gr);
    if (bucket === undefined) {
      bucket = new Map();
      this.#objects.set(gr, bucket);
      this.#types.set(gr, rt);
    }
    return bucket;
  }

  #record(event: StoreEvent): void {
    this.#history.push(event);
    while (this.#history.length > this.#historySize) {
      const dropped = this.#history.shift();
      if (dropped !== undefined) this.#compactedRv = dropped.rv;
    }
    for (const listener of [...this.#listeners]) listener(event);
  }
}

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)] ?? 'x';
  return s;
}
