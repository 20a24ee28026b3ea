import type { Logger, ProxyNode, PushRequest } from '@meridian/model';
import { classifyDeltaRequest, DeltaRequestKind, type DeltaRequestView, type DeltaTypeStreamState } from './classify-delta.ts';
import { capNackMessage, NackLog } from './nack-log.ts';
import { deltaStatuses } from './resource-status.ts';
import { SendQueue } from './send-queue.ts';
import { pairDigest, resourceDigest, SetDigest } from './set-digest.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import {
  newTypeWatch,
  pushId,
  removalsWait,
  StreamVariant,
  typeVersion,
  type ConnectionOptions,
  type DeltaResourceRecord,
  type DeltaWatchState,
  type GenerateFn,
  type ResourceStatus,
  type StreamHooks,
  type XdsConnection,
} from './stream-state.ts';
import { TYPE_SHORT_NAME, TypeUrl, requiresFullStateInSotw } from './type-url.ts';
import { encodeDeltaDiscoveryResponse, type DeltaResponseParts } from './wire.ts';

/**
 * Each response is (N)ACKed on its own; a client that never answers must not grow this
 * map. Evicted responses leave their resources 'sent' (STALE in CSDS), which is honest.
 */
const MAX_OUTSTANDING = 32;

/** Responses of a push with at most this many changes are shared between streams. */
const MAX_SHARED_CHANGES = 16;

/**
 * One delta (incremental) ADS stream. Tracks per resource what the client has, so a response
 * carries only resources whose version differs, names that must be answered, and removals.
 * Backpressure as in `AdsConnection`: while the stream does not drain, requests merge into
 * one pending set of names per type and pushes into one pending push.
 */
export class DeltaAdsConnection implements XdsConnection {
  readonly variant = StreamVariant.Delta;
  readonly id: string;
  readonly proxy: ProxyNode;
  readonly connectedAt = Date.now();
  readonly peer: string | undefined;
  readonly watches = new Map<TypeUrl, DeltaWatchState>();
  /** Per type: names that must be in the next response (a send with none still diffs). */
  private readonly queue: SendQueue<Set<string>>;
  private readonly source: ResourceSource;
  private readonly logger: Logger;
  private readonly hooks: Partial<StreamHooks>;
  private readonly nackLog: NackLog;
  private nonceSeq = 0;
  /** Per wildcard type: the list the client last matched exactly, and the stream's mutations then. */
  private readonly inSync = new Map<TypeUrl, { list: readonly GeneratedResource[]; version: string; mutations: number }>();

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.proxy = options.proxy;
    this.source = options.source;
    this.peer = options.peer;
    this.hooks = options.hooks ?? {};
    this.logger = options.logger.child({ conn: options.id, node: options.proxy.id, variant: 'delta' });
    this.nackLog = new NackLog(this.logger, options.nackLogIntervalMs);
    this.queue = new SendQueue<Set<string>>({
      stream: options.stream,
      logger: this.logger,
      maxBufferedBytes: options.maxBufferedBytes,
      merge: (into, from) => {
        for (const n of from) into.add(n);
      },
      onPush: (push) => {
        for (const [typeUrl, w] of this.watches) if (this.touches(push, typeUrl, w)) this.queue.queue(typeUrl, new Set());
      },
      send: (typeUrl, mustSend, push) => this.send(typeUrl, mustSend, push),
    });
  }

  get isBlocked(): boolean {
    return this.queue.isBlocked;
  }

  get bufferedBytes(): number {
    return this.queue.bufferedBytes;
  }

  get pushes(): number {
    return this.queue.pushes;
  }

  resourceStatuses(generate: GenerateFn): ResourceStatus[] {
    return deltaStatuses(this.proxy, this.watches, generate);
  }

  /** A DeltaDiscoveryRequest from the proxy, already known to be of a served type. */
  handleRequest(typeUrl: TypeUrl, request: DeltaRequestView): void {
    const existing = this.watches.get(typeUrl);
    const c = classifyDeltaRequest(existing && streamState(existing), request, requiresFullStateInSotw(typeUrl));
    const w = existing ?? newWatch();
    if (!existing) this.watches.set(typeUrl, w);
    const type = TYPE_SHORT_NAME[typeUrl];
    const now = Date.now();
    w.requests++;
    w.wildcard = c.wildcard;
    w.legacyWildcard = c.legacyWildcard;
    w.explicit.clear();
    for (const n of c.names) w.explicit.add(n);
    w.names = c.wildcard ? undefined : w.explicit;
    // The client drops what it unsubscribed from; a wildcard keeps covering such names.
    if (!c.wildcard) for (const n of c.unsubscribed) forget(w, n);
    if (c.wildcardStopped) for (const n of [...w.resources.keys()]) if (!c.names.has(n)) forget(w, n);
    for (const [name, version] of c.known) remember(w, name, { version, nonce: '', at: now, state: 'acked', digest: pairDigest(name, version) });

    switch (c.kind) {
      case DeltaRequestKind.Initial:
        this.logger.debug({ type, wildcard: c.wildcard, names: c.names.size, known: c.known.size }, 'subscribed');
        break;
      case DeltaRequestKind.Ack:
        this.settle(w, request.response_nonce, 'acked');
        w.ackedNonce = request.response_nonce;
        w.ackedVersion = w.outstanding.get(request.response_nonce)?.version ?? w.ackedVersion;
        w.ackedAt = now;
        if (c.latest) w.lastNack = undefined;
        w.outstanding.delete(request.response_nonce);
        this.hooks.onAck?.(this, typeUrl, c.latest && w.lastChangeAt !== undefined ? now - w.lastChangeAt : undefined);
        break;
      case DeltaRequestKind.Nack: {
        const message = capNackMessage(request.error_detail?.message ?? '');
        this.settle(w, request.response_nonce, 'nacked');
        w.lastNack = {
          nonce: request.response_nonce,
          version: w.outstanding.get(request.response_nonce)?.version ?? '',
          code: request.error_detail?.code ?? 0,
          message,
          at: now,
        };
        w.outstanding.delete(request.response_nonce);
        // The client keeps what it had; the same bytes would fail again, so nothing is resent
        // until the mesh changes (versions differ again).
        this.nackLog.record(type, request.response_nonce, message);
        this.hooks.onNack?.(this, typeUrl, message);
        break;
      }
      case DeltaRequestKind.Stale:
        this.logger.debug({ type, nonce: request.response_nonce }, 'unknown nonce');
        break;
      case DeltaRequestKind.Subscription:
        break;
    }
    if (c.respond) this.queue.queue(typeUrl, new Set(c.mustSend));
    this.queue.flush();
  }

  push(request: PushRequest): void {
    this.queue.push(request);
  }

  refresh(typeUrl: TypeUrl): void {
    if (!this.watches.has(typeUrl)) return;
    this.queue.queue(typeUrl, new Set());
    this.queue.flush();
  }

  close(): void {
    this.queue.close();
    this.nackLog.close();
  }

  private settle(w: DeltaWatchState, nonce: string, state: 'acked' | 'nacked'): void {
    for (const name of w.outstanding.get(nonce)?.names ?? []) {
      const record = w.resources.get(name);
      if (record?.nonce === nonce) record.state = state;
    }
  }

  /** Unlike SotW, a type not answered yet is still watched: a subscribed name may appear. */
  private touches(push: PushRequest, typeUrl: TypeUrl, w: DeltaWatchState): boolean {
    if (w.wildcard && this.source.affects(push, typeUrl, this.proxy, undefined)) return true;
    for (const name of w.explicit) if (this.source.affects(push, typeUrl, this.proxy, name)) return true;
    return false;
  }

  /** What the client should have now: the wildcard set plus explicit names that exist. */
  private desired(typeUrl: TypeUrl, w: DeltaWatchState, wildcardList: readonly GeneratedResource[] | undefined): Map<string, GeneratedResource> {
    const out = new Map<string, GeneratedResource>();
    for (const r of wildcardList ?? []) out.set(r.name, r);
    const rest = new Set([...w.explicit].filter((n) => !out.has(n)));
    if (rest.size > 0) for (const r of this.source.generate(typeUrl, this.proxy, rest)) out.set(r.name, r);
    return out;
  }

  private send(typeUrl: TypeUrl, mustSend: ReadonlySet<string>, push: PushRequest | undefined): void {
    const w = this.watches.get(typeUrl);
    if (!w) return;
    // A pure wildcard watch whose shared list is the one the client was last brought in line
    // with, and nothing changed on the stream since: no diff to make. An endpoints push
    // re-checks CDS and LDS for every sidecar, and diffing a thousand clusters per proxy per
    // push is what would otherwise cost.
    const wildcardList = w.wildcard ? this.source.generate(typeUrl, this.proxy, undefined) : undefined;
    const list = w.explicit.size === 0 && mustSend.size === 0 ? wildcardList : undefined;
    const synced = this.inSync.get(typeUrl);
    const fromSynced = list && synced?.mutations === w.mutations ? synced : undefined;
    if (list && fromSynced && (fromSynced.list === list || fromSynced.version === typeVersion(list))) return;
    let outgoing: readonly GeneratedResource[];
    let removed: readonly string[];
    if (list && fromSynced) {
      // The client has exactly the shared list it was last brought in line with: the change
      // from that list to this one is the same for every such stream, worked out once.
      ({ changed: outgoing, removed } = listChanges(fromSynced.list, list));
    } else {
      const desired = this.desired(typeUrl, w, wildcardList);
      outgoing = [...desired.values()].filter((r) => mustSend.has(r.name) || w.sentVersions.get(r.name) !== r.version);
      removed = [...w.sentVersions.keys()].filter((n) => !desired.has(n));
    }
    // Make-before-break for removals (`removalsWait`): they go in a follow-up response.
    const held = removed.length > 0 && removalsWait(typeUrl, this.queue);
    if (held) {
      this.queue.queue(TypeUrl.Cluster, new Set());
      removed = [];
    }
    // The client will have exactly `list` once this response is applied (unless a removal waits).
    const inSync = list && !held;
    if (outgoing.length === 0 && removed.length === 0) {
      if (inSync) this.inSync.set(typeUrl, { list, version: typeVersion(list), mutations: w.mutations });
      return;
    }

    // A push brings many streams the same few changes: named after the push, their responses
    // are equal whenever what the client ends up with is, and are built once (`sharedResponse`).
    const pushNonce = push && mustSend.size === 0 && outgoing.length + removed.length <= MAX_SHARED_CHANGES ? `p${pushId(push)}` : undefined;
    const shared = pushNonce !== undefined && pushNonce !== w.lastNonce;
    const nonce = shared ? pushNonce : `${this.id}-d${(++this.nonceSeq).toString(36)}`;
    const now = Date.now();
    for (const n of removed) forget(w, n);
    const changed = outgoing.some((r) => w.sentVersions.get(r.name) !== r.version) || removed.length > 0;
    for (const r of outgoing) remember(w, r.name, { version: r.version, nonce, at: now, state: 'sent', digest: resourceDigest(r) });
    const version = w.digest.toString();
    const parts = { systemVersionInfo: version, typeUrl, nonce, resources: outgoing, removedResources: removed };
    const bytes = shared && push ? sharedResponse(push, parts) : encodeDeltaDiscoveryResponse(parts);
    if (inSync) this.inSync.set(typeUrl, { list, version: typeVersion(list), mutations: w.mutations });
    w.outstanding.set(nonce, { names: outgoing.map((r) => r.name), version });
    if (w.outstanding.size > MAX_OUTSTANDING) {
      for (const old of w.outstanding.keys()) {
        if (w.outstanding.size <= MAX_OUTSTANDING) break;
        w.outstanding.delete(old);
      }
    }
    w.lastNonce = nonce;
    w.lastVersion = version;
    w.lastSentAt = now;
    w.lastSentCount = outgoing.length;
    if (changed) w.lastChangeAt = push?.since ?? now;
    this.logger.debug({ type: TYPE_SHORT_NAME[typeUrl], nonce, resources: outgoing.length, removed: removed.length }, 'sent');
    this.hooks.onResponse?.(this, typeUrl, outgoing.length, bytes.length);
    this.queue.write(bytes);
  }
}

function newWatch(): DeltaWatchState {
  return {
    ...newTypeWatch(new Set()),
    wildcard: false,
    legacyWildcard: false,
    explicit: new Set(),
    resources: new Map(),
    outstanding: new Map(),
    digest: new SetDigest(),
    mutations: 0,
  };
}

function streamState(w: DeltaWatchState): DeltaTypeStreamState {
  return {
    wildcard: w.wildcard,
    legacyWildcard: w.legacyWildcard,
    names: w.explicit,
    lastNonce: w.lastNonce,
    isOutstanding: (nonce) => w.outstanding.has(nonce),
  };
}

function remember(w: DeltaWatchState, name: string, record: DeltaResourceRecord): void {
  const old = w.resources.get(name);
  if (old) w.digest.remove(old.digest);
  w.resources.set(name, record);
  w.sentVersions.set(name, record.version);
  w.digest.add(record.digest);
  w.mutations++;
}

function forget(w: DeltaWatchState, name: string): void {
  const record = w.resources.get(name);
  if (!record) return;
  w.resources.delete(name);
  w.sentVersions.delete(name);
  w.digest.remove(record.digest);
  w.mutations++;
}

const changesBetween = new WeakMap<readonly GeneratedResource[], WeakMap<readonly GeneratedResource[], { changed: GeneratedResource[]; removed: string[] }>>();

/** What differs from one shared list to the next: resources new or changed, names gone. Computed once per pair. */
function listChanges(from: readonly GeneratedResource[], to: readonly GeneratedResource[]): { changed: GeneratedResource[]; removed: string[] } {
  let byTo = changesBetween.get(from);
  if (!byTo) changesBetween.set(from, (byTo = new WeakMap()));
  let changes = byTo.get(to);
  if (!changes) {
    const before = new Map(from.map((r) => [r.name, r.version]));
    const names = new Set(to.map((r) => r.name));
    changes = { changed: to.filter((r) => before.get(r.name) !== r.version), removed: from.filter((r) => !names.has(r.name)).map((r) => r.name) };
    byTo.set(to, changes);
  }
  return changes;
}

/** Responses built for a push, by everything their bytes depend on besides the push's nonce. */
const sharedResponses = new WeakMap<PushRequest, Map<string, Buffer>>();

function sharedResponse(push: PushRequest, parts: DeltaResponseParts): Buffer {
  let built = sharedResponses.get(push);
  if (!built) sharedResponses.set(push, (built = new Map()));
  const key = [parts.typeUrl, parts.systemVersionInfo, ...parts.removedResources, '', ...parts.resources.map((r) => `${r.name}\0${r.version}`)].join('\n');
  let bytes = built.get(key);
  if (!bytes) built.set(key, (bytes = encodeDeltaDiscoveryResponse(parts)));
  return bytes;
}
