import type { Logger, ProxyNode, PushRequest } from '@meridian/model';
import { classifyRequest, RequestKind, type SotwRequestView } from './classify.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import { capNackMessage, NackLog } from './nack-log.ts';
import { sotwStatuses } from './resource-status.ts';
import { SendQueue } from './send-queue.ts';
import {
  pushId,
  newTypeWatch,
  removalsWait,
  StreamVariant,
  typeVersion,
  type ConnectionOptions,
  type GenerateFn,
  type ResourceStatus,
  type StreamHooks,
  type TypeWatchState,
  type XdsConnection,
} from './stream-state.ts';
import { TYPE_SHORT_NAME, TypeUrl, requiresFullStateInSotw } from './type-url.ts';
import { encodeDiscoveryResponse } from './wire.ts';

interface SendRequest {
  fullState: boolean;
  /** Names that must be in the response even if unchanged (new subscriptions). */
  mustInclude: Set<string>;
  /** Set when only a push asked for this response: then its bytes may be shared. */
  push?: PushRequest | undefined;
}

/**
 * One ADS stream (state of the world). Holds what the proxy subscribed to and what it was
 * sent and acknowledged, per type. Responses go out in make-before-break order; while the
 * stream is not draining its writes, requests and pushes merge into one pending set, so a
 * slow proxy costs a bounded amount of memory and never holds up the others.
 */
export class AdsConnection implements XdsConnection {
  readonly variant = StreamVariant.Sotw;
  readonly id: string;
  readonly proxy: ProxyNode;
  readonly connectedAt = Date.now();
  readonly peer: string | undefined;
  readonly watches = new Map<TypeUrl, TypeWatchState>();
  private readonly queue: SendQueue<SendRequest>;
  private readonly source: ResourceSource;
  private readonly logger: Logger;
  private readonly hooks: Partial<StreamHooks>;
  private readonly nackLog: NackLog;
  private nonceSeq = 0;
  /** The clusters last sent, to hold back removals (make-before-break). */
  private lastClusters: readonly GeneratedResource[] | undefined;

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.proxy = options.proxy;
    this.source = options.source;
    this.peer = options.peer;
    this.hooks = options.hooks ?? {};
    this.logger = options.logger.child({ conn: options.id, node: options.proxy.id });
    this.nackLog = new NackLog(this.logger, options.nackLogIntervalMs);
    this.queue = new SendQueue<SendRequest>({
      stream: options.stream,
      logger: this.logger,
      maxBufferedBytes: options.maxBufferedBytes,
      merge: mergeSends,
      onPush: (push) => {
        for (const [typeUrl, watch] of this.watches) {
          if (this.touches(push, typeUrl, watch)) this.queue.queue(typeUrl, { fullState: false, mustInclude: new Set(), push });
        }
      },
      send: (typeUrl, send, push) => this.send(typeUrl, send, push?.since),
    });
  }

  /** A DiscoveryRequest from the proxy, already known to be of a served type. */
  handleRequest(typeUrl: TypeUrl, request: SotwRequestView): void {
    const watch = this.watches.get(typeUrl);
    const wildcardCapable = requiresFullStateInSotw(typeUrl);
    const c = classifyRequest(watch, request, wildcardCapable);
    const state = watch ?? newTypeWatch(c.names);
    if (!watch) this.watches.set(typeUrl, state);
    state.names = c.names;
    state.requests++;
    for (const name of c.removed) state.sentVersions.delete(name);
    const type = TYPE_SHORT_NAME[typeUrl];

    switch (c.kind) {
      case RequestKind.Initial:
        state.sentVersions.clear();
        this.logger.debug({ type, version: request.version_info, names: c.names?.size ?? '*' }, 'subscribed');
        break;
      case RequestKind.Ack:
        if (state.ackedNonce !== request.response_nonce) {
          state.ackedVersion = request.version_info;
          state.ackedNonce = request.response_nonce;
          state.ackedAt = Date.now();
          state.lastNack = undefined;
          const convergence = state.lastChangeAt === undefined ? undefined : state.ackedAt - state.lastChangeAt;
          this.hooks.onAck?.(this, typeUrl, convergence);
        }
        break;
      case RequestKind.Nack: {
        const message = capNackMessage(request.error_detail?.message ?? '');
        state.lastNack = {
          nonce: request.response_nonce,
          version: request.version_info,
          code: request.error_detail?.code ?? 0,
          message,
          at: Date.now(),
        };
        // The client keeps its last good config; the same bytes would fail again, so nothing
        // is resent until the mesh changes.
        this.nackLog.record(type, request.response_nonce, message);
        this.hooks.onNack?.(this, typeUrl, message);
        break;
      }
      case RequestKind.Stale:
        this.logger.debug({ type, nonce: request.response_nonce, latest: state.lastNonce }, 'stale nonce');
        break;
    }
    if (c.respond) this.queue.queue(typeUrl, { fullState: c.fullState, mustInclude: new Set(c.added) });
    this.queue.flush();
  }

  /** The mesh changed; send whatever of it this proxy watches, once the stream can take it. */
  push(request: PushRequest): void {
    this.queue.push(request);
  }

  refresh(typeUrl: TypeUrl): void {
    // Not answered yet: the answer to the request will carry the new state.
    if (this.watches.get(typeUrl)?.lastNonce === undefined) return;
    this.queue.queue(typeUrl, { fullState: false, mustInclude: new Set() });
    this.queue.flush();
  }

  close(): void {
    this.queue.close();
    this.nackLog.close();
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
    return sotwStatuses(this.proxy, this.watches, generate);
  }

  /** Make-before-break for removals (`removalsWait`): held clusters go in a follow-up CDS. */
  private holdRemovedClusters(resources: GeneratedResource[], watch: TypeWatchState): GeneratedResource[] {
    // The same list as last sent (an endpoints push re-checks CDS for every sidecar): nothing
    // was removed, and comparing names would cost every proxy a pass over every cluster.
    if (typeVersion(resources) === watch.lastVersion) {
      this.lastClusters = resources;
      return resources;
    }
    const last = this.lastClusters;
    const sent = last && removalsWait(TypeUrl.Cluster, this.queue) ? withHeldRemovals(last, resources) : resources;
    if (sent !== resources) this.queue.queue(TypeUrl.Cluster, { fullState: false, mustInclude: new Set() });
    this.lastClusters = sent;
    return sent;
  }

  private touches(push: PushRequest, typeUrl: TypeUrl, watch: TypeWatchState): boolean {
    if (watch.lastNonce === undefined) return false; // not answered yet: the request path will
    if (watch.names === undefined) return this.source.affects(push, typeUrl, this.proxy, undefined);
    for (const name of watch.names) if (this.source.affects(push, typeUrl, this.proxy, name)) return true;
    return false;
  }

  private send(typeUrl: TypeUrl, send: SendRequest, changeAt: number | undefined): void {
    const watch = this.watches.get(typeUrl) ?? newTypeWatch(undefined);
    this.watches.set(typeUrl, watch);
    let resources = this.source.generate(typeUrl, this.proxy, watch.names);
    if (typeUrl === TypeUrl.Cluster) resources = this.holdRemovedClusters(resources, watch);
    const version = typeVersion(resources);
    const full = send.fullState || requiresFullStateInSotw(typeUrl);
    const changed = version !== watch.lastVersion;
    if (!send.fullState && send.mustInclude.size === 0 && !changed) return;
    const changedOnly = full ? resources : resources.filter((r) => send.mustInclude.has(r.name) || watch.sentVersions.get(r.name) !== r.version);
    // When everything changed, send the shared list itself so its bytes can be shared too.
    const outgoing = changedOnly.length === resources.length ? resources : changedOnly;
    if (!full && outgoing.length === 0) return;

    // A push sends every proxy of a view the same list: with a nonce named after the
    // push (unique on each stream, since a push answers a type once), the bytes are built once
    // and shared. Responses to requests keep per-stream nonces.
    const shareable = send.push !== undefined && outgoing === resources && send.mustInclude.size === 0 && !send.fullState;
    const nonce = shareable && send.push ? `p${pushId(send.push)}` : `${this.id}-${(++this.nonceSeq).toString(36)}`;
    const shared = shareable ? sharedResponses.get(resources) : undefined;
    const bytes =
      shared && shared.nonce === nonce && shared.version === version
        ? shared.bytes
        : encodeDiscoveryResponse({ versionInfo: version, typeUrl, nonce, resources: outgoing.map((r) => r.any) });
    if (shareable && shared?.bytes !== bytes) sharedResponses.set(resources, { nonce, version, bytes });
    // Only RDS/EDS responses are diffed against what was sent; LDS/CDS always carry everything.
    if (!requiresFullStateInSotw(typeUrl)) for (const r of outgoing) watch.sentVersions.set(r.name, r.version);
    watch.lastNonce = nonce;
    watch.lastVersion = version;
    watch.lastSentAt = Date.now();
    watch.lastSentCount = outgoing.length;
    if (changed) watch.lastChangeAt = changeAt ?? watch.lastSentAt;
    this.logger.debug({ type: TYPE_SHORT_NAME[typeUrl], version, nonce, resources: outgoing.length }, 'sent');
    this.hooks.onResponse?.(this, typeUrl, outgoing.length, bytes.length);
    this.queue.write(bytes);
  }
}

function mergeSends(into: SendRequest, from: SendRequest): void {
  into.fullState ||= from.fullState;
  for (const n of from.mustInclude) into.mustInclude.add(n);
  into.push = into.push && from.push ? from.push : undefined;
}

/** The last response built from a shared resource list in a push. */
const sharedResponses = new WeakMap<readonly GeneratedResource[], { nonce: string; version: string; bytes: Buffer }>();

/**
 * `next` plus the clusters of `last` it no longer has, or `next` itself when none went away.
 * Proxies of one view share both lists, so the answer is computed once per push and shared
 * too (as an array, its version and response bytes are then shared as well).
 */
function withHeldRemovals(last: readonly GeneratedResource[], next: GeneratedResource[]): GeneratedResource[] {
  let byNext = heldRemovals.get(last);
  if (!byNext) heldRemovals.set(last, (byNext = new WeakMap()));
  let sent = byNext.get(next);
  if (!sent) {
    const names = new Set(next.map((r) => r.name));
    const removed = last.filter((r) => !names.has(r.name));
    sent = removed.length > 0 ? [...next, ...removed] : next;
    byNext.set(next, sent);
  }
  return sent;
}

const heldRemovals = new WeakMap<readonly GeneratedResource[], WeakMap<readonly GeneratedResource[], GeneratedResource[]>>();

