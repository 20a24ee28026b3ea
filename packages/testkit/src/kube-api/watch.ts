// Watch streams: replay from a resourceVersion out of the store's history, then
// live events, one JSON object per line on a chunked response. Also BOOKMARKs,
// timeouts, and the hooks tests use to break streams on purpose.
import type { ServerResponse } from 'node:http';
import { sendStatus, type Exchange } from './http-util.ts';
import { parseRv } from './list.ts';
import { apiVersionOf, groupResource, type ResourceType } from './resources.ts';
import { matchesFilter, type ObjectFilter } from './selectors.ts';
import { Statuses } from './status.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import type { KubeObject, StatusBody, WatchEventType } from './types.ts';

export interface WatchSpec {
  rt: ResourceType;
  /** '' for all namespaces. */
  namespace: string;
  /** Set for a watch of a single object (GET …/name?watch=1 or fieldSelector metadata.name). */
  name?: string;
  filter: ObjectFilter;
  params: URLSearchParams;
}

export interface WatchHubOptions {
  /** How often to send BOOKMARKs to watches that allow them. Real servers: about a minute. */
  bookmarkIntervalMs: number;
  /** Answer a watch from a compacted RV with HTTP 410 instead of 200 + an ERROR event. */
  goneAsHttpStatus: boolean;
  /** Ends watches that asked for no timeoutSeconds after this long; 0 keeps them open. */
  defaultTimeoutSeconds: number;
}

/** What a test can see of an open watch. */
export interface WatchInfo {
  resource: string;
  namespace: string;
  user: string | undefined;
  resourceVersion: string;
  bookmarks: boolean;
}

class WatchStream {
  readonly info: WatchInfo;
  readonly #res: ServerResponse;
  readonly #spec: WatchSpec;
  readonly #store: ObjectStore;
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  readonly #onClose: () => void;

  constructor(ex: Exchange, spec: WatchSpec, store: ObjectStore, onClose: () => void) {
    this.#res = ex.res;
    this.#spec = spec;
    this.#store = store;
    this.#onClose = onClose;
    this.info = {
      resource: groupResource(spec.rt),
      namespace: spec.namespace,
      user: ex.record.user,
      resourceVersion: spec.params.get('resourceVersion') ?? '',
      bookmarks: spec.params.get('allowWatchBookmarks') === 'true',
    };
    ex.res.on('close', () => this.#cleanup());
  }

  /** Changes at or before this RV are never sent: the client already has them (or asked to start later). */
  #fromRv = 0;

  start(initial: readonly KubeObject[], replay: readonly StoreEvent[], opts: WatchHubOptions, fromRv = 0): void {
    this.#fromRv = fromRv;
    // client-node waits for the response head before reading events: flush it now.
    this.#res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    this.#res.flushHeaders();
    for (const obj of initial) this.#writeLine('ADDED', obj);
    // The streaming-list protocol (KEP-3157) marks the end of the initial state with a bookmark.
    if (this.#spec.params.get('sendInitialEvents') === 'true' && this.info.bookmarks) this.#bookmark(true);
    for (const e of replay) this.#deliver(e);
    this.#unsubscribe = this.#store.subscribe((e) => this.#deliver(e));
    if (this.info.bookmarks && opts.bookmarkIntervalMs > 0) {
      const t = setInterval(() => this.#bookmark(false), opts.bookmarkIntervalMs);
      this.#timers.push(t);
    }
    const timeoutParam = Number(this.#spec.params.get('timeoutSeconds') ?? '');
    const timeout = Number.isFinite(timeoutParam) && timeoutParam > 0 ? timeoutParam : opts.defaultTimeoutSeconds;
    if (timeout > 0) this.#timers.push(setTimeout(() => this.close(), timeout * 1000));
  }

  /** Ends the stream cleanly (as a server-side timeout does): clients re-watch from their last RV. */
  close(): void {
    if (this.#closed) return;
    this.#res.end();
    this.#cleanup();
  }

  /** Resets the connection mid-stream, as a crashed server or broken network does. */
  abort(): void {
    if (this.#closed) return;
    this.#res.destroy();
    this.#cleanup();
  }

  /** Sends an ERROR event (e.g. 410 Expired) and ends the stream. */
  fail(status: StatusBody): void {
    if (this.#closed) return;
    this.#writeLine('ERROR', status);
    this.close();
  }

  #inScope(obj: KubeObject | undefined): boolean {
    if (obj === undefined) return false;
    const meta = obj.metadata ?? {};
    if (this.#spec.namespace && meta.namespace !== this.#spec.namespace) return false;
    if (this.#spec.name !== undefined && meta.name !== this.#spec.name) return false;
    return matchesFilter(this.#spec.filter, obj);
  }

  // As the watch cache does, an object moving into or out of the selector is
  // reported as ADDED or DELETED, not as MODIFIED.
  #deliver(e: StoreEvent): void {
    if (e.rv <= this.#fromRv || groupResource(e.rt) !== this.info.resource) return;
    const now = this.#inScope(e.type === 'DELETED' ? e.previous : e.object);
    const before = e.type !== 'ADDED' && this.#inScope(e.previous);
    if (e.type === 'ADDED') {
      if (now) this.#writeLine('ADDED', e.object);
    } else if (e.type === 'DELETED') {
      if (now) this.#writeLine('DELETED', e.object);
    } else if (now && before) this.#writeLine('MODIFIED', e.object);
    else if (now) this.#writeLine('ADDED', e.object);
    else if (before && e.previous !== undefined) {
      this.#writeLine('DELETED', { ...e.previous, metadata: { ...e.previous.metadata, resourceVersion: String(e.rv) } });
    }
  }

  #bookmark(initialEventsEnd: boolean): void {
    const metadata: KubeObject['metadata'] = { resourceVersion: String(this.#store.resourceVersion) };
    if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    this.#writeLine('BOOKMARK', { kind: this.#spec.rt.kind, apiVersion: apiVersionOf(this.#spec.rt), metadata });
  }

  #writeLine(type: WatchEventType, object: unknown): void {
    if (this.#closed || this.#res.destroyed) return;
    this.#res.write(`${JSON.stringify({ type, object })}\n`);
  }

  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    for (const t of this.#timers) clearTimeout(t);
    this.#onClose();
  }
}

export class WatchHub {
  readonly #store: ObjectStore;
  readonly #streams = new Set<WatchStream>();
  readonly #waiters = new Set<() => void>();
  options: WatchHubOptions;

  constructor(store: ObjectStore, options: WatchHubOptions) {
    this.#store = store;
    this.options = options;
  }

  open(ex: Exchange, spec: WatchSpec): void {
    // The client may have given up while the request was delayed or held.
    if (ex.closed) return;
    const rvParam = spec.params.get('resourceVersion');
    const rv = parseRv(rvParam);
    if (Number.isNaN(rv)) {
      sendStatus(ex, Statuses.badRequest(`invalid resourceVersion "${rvParam ?? ''}"`));
      return;
    }
    const sendInitial = spec.params.get('sendInitialEvents') === 'true';
    // No RV or "0" means "the current state, then changes": synthetic ADDED events first.
    let initial: KubeObject[] = [];
    let replay: readonly StoreEvent[] = [];
    if (rv === undefined || rv === 0 || sendInitial) {
      const listed = this.#store.list(spec.rt, spec.namespace || undefined);
      if (listed.ok) initial = listed.value.items.map(([, o]) => o);
    } else {
      const events = this.#store.eventsAfter(rv);
      if (!events.ok) {
        this.#gone(ex, spec, events.status);
        return;
      }
      replay = events.value;
    }
    const stream = new WatchStream(ex, spec, this.#store, () => {
      this.#streams.delete(stream);
      this.#notify();
    });
    ex.record.status = 200;
    this.#streams.add(stream);
    // Initial objects go through the same scope/selector check as live events.
    stream.start(
      initial.filter((o) => (!spec.name || o.metadata?.name === spec.name) && matchesFilter(spec.filter, o)),
      replay,
      this.options,
      rv ?? 0,
    );
    this.#notify();
  }

  #gone(ex: Exchange, spec: WatchSpec, status: StatusBody): void {
    if (this.options.goneAsHttpStatus) {
      sendStatus(ex, status);
      return;
    }
    const stream = new WatchStream(ex, spec, this.#store, () => undefined);
    ex.record.status = 200;
    stream.start([], [], { ...this.options, bookmarkIntervalMs: 0, defaultTimeoutSeconds: 0 });
    stream.fail(status);
  }

  list(): WatchInfo[] {
    return [...this.#streams].map((s) => ({ ...s.info }));
  }

  /** Closes every open watch; `abrupt` resets the connections instead of ending the streams. */
  dropAll(abrupt: boolean): number {
    const streams = [...this.#streams];
    for (const s of streams) {
      if (abrupt) s.abort();
      else s.close();
    }
    return streams.length;
  }

  /** Ends every open watch with an ERROR 410 event, as when a watcher falls behind compaction. */
  expireAll(): number {
    const streams = [...this.#streams];
    const status = Statuses.expired(`too old resource version: compacted at ${this.#store.compactedResourceVersion}`);
    for (const s of streams) s.fail(status);
    return streams.length;
  }

  /** Resolves when `predicate` holds for the open watches; rejects after `timeoutMs`. */
  waitFor(predicate: (watches: WatchInfo[]) => boolean, timeoutMs: number): Promise<void> {
    if (predicate(this.list())) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.list())) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for watches; open: ${JSON.stringify(this.list())}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }
}
