import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, type ConfigDocument, type Logger } from '@meridian/model';
import { ClusterState, type ClusterRegistry } from './cluster-registry.ts';
import { objectKey, type KubeEvent } from './kube-objects.ts';
import { listManifests, type ManifestListing } from './manifest-files.ts';
import { parseManifestInSlices, ManifestError } from './manifest-parser.ts';
import { SyncSignal } from './sync-signal.ts';

/** How a directory is watched; `fs.watch` unless a test stands in for the kernel. */
export type WatchDirectory = (directory: string, listener: () => void) => FSWatcher;

export interface ManifestSourceOptions {
  readonly directory: string;
  readonly registry: ClusterRegistry;
  readonly logger: Logger;
  /**
   * A file is applied only once it has not changed for this long (and parses completely), so
   * a file still being written is never served half-way. Also the quiet time after an event.
   */
  readonly settleMs?: number;
  /** Full rescan period: the bound on how late a change is seen when a watch misses it. */
  readonly rescanMs?: number;
  readonly watch?: WatchDirectory;
  /** Told the configuration (policy) documents of the directory whenever they change. */
  readonly onConfig?: (documents: readonly ConfigDocument[]) => void;
}

export const MANIFEST_SETTLE_MS = 200;
export const MANIFEST_RESCAN_MS = 10_000;

type FileError = { readonly document: number; readonly reason: string; readonly at: string };

interface FileState {
  /** dev, inode, size, mtime, ctime: any write or replace changes it. */
  readonly stamp: string;
  /** The last good objects of this file; kept while the file is broken. */
  readonly objects: readonly KubeEvent[];
  /** Its configuration documents, likewise. */
  readonly config: readonly ConfigDocument[];
  readonly error?: FileError;
}

export interface ManifestFileStatus {
  readonly file: string;
  readonly objects: number;
  readonly error?: FileError;
  /** Changed on disk, applied once it has been stable for the settle time. */
  readonly pending?: true;
}

export interface ManifestWatchProblem {
  readonly directory: string;
  readonly error: string;
  readonly at: string;
}

export interface ManifestWatchStatus {
  /** `watching`: every directory has a watch; `degraded`: some changes are seen only by the rescan. */
  readonly state: 'watching' | 'degraded';
  readonly directories: number;
  readonly settleMs: number;
  readonly rescanMs: number;
  readonly problems: readonly ManifestWatchProblem[];
}

export interface ManifestSourceStatus {
  readonly directory: string;
  readonly lastScanAt: string | null;
  readonly watch: ManifestWatchStatus;
  readonly files: ManifestFileStatus[];
}

interface DirectoryWatch {
  readonly watcher: FSWatcher;
  /** dev:inode when the watch was set: a directory replaced under the same name needs a new one. */
  readonly identity: string;
}

/**
 * A cluster described by a directory of ordinary Kubernetes manifests: read at start, then
 * rescanned after every change. Every directory of the tree is watched on its own (so saves
 * by rename, replaced directories and ConfigMap `..data` swaps are all seen), watches are set
 * again whenever a directory's identity changes, and a full rescan every `rescanMs` catches
 * whatever a watch missed. A broken file is reported and its last good objects stay.
 */
export class ManifestDirectorySource {
  private readonly directory: string;
  private readonly registry: ClusterRegistry;
  private readonly logger: Logger;
  private readonly settleMs: number;
  private readonly rescanMs: number;
  private readonly watchDirectory: WatchDirectory;
  private readonly files = new Map<string, FileState>();
  /** Files seen changed but not yet stable: their stamp and when it was first seen. */
  private readonly unsettled = new Map<string, { stamp: string; since: number }>();
  /** Files gone from the listing, removed once gone for the settle time (editors delete, then write). */
  private readonly missing = new Map<string, number>();
  private readonly watches = new Map<string, DirectoryWatch>();
  /** Directories not watched (or not listable), with why. */
  private readonly problems = new Map<string, ManifestWatchProblem>();
  /** Set while the directory itself cannot be read. */
  private scanProblem: ManifestWatchProblem | undefined;
  /** What the registry currently holds, by `kind/key`, with a fingerprint to diff against. */
  private applied = new Map<string, { event: KubeEvent; fingerprint: string }>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private rescanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanRequested = false;
  private stopped = false;
  private lastScanAt: number | undefined;
  private readonly onConfig: ((documents: readonly ConfigDocument[]) => void) | undefined;
  private configFingerprint: string | undefined;
  private readonly initialScan = new SyncSignal();

  constructor(options: ManifestSourceOptions) {
    this.directory = path.resolve(options.directory);
    this.registry = options.registry;
    this.settleMs = options.settleMs ?? MANIFEST_SETTLE_MS;
    this.rescanMs = options.rescanMs ?? MANIFEST_RESCAN_MS;
    this.watchDirectory = options.watch ?? ((dir, listener) => fsWatch(dir, { persistent: false }, listener));
    this.onConfig = options.onConfig;
    this.logger = options.logger.child({ component: 'manifest-source', cluster: options.registry.id });
  }

  /** Reads the directory once (every file as it is now), marks the cluster synced, then follows changes. */
  async start(): Promise<void> {
    await this.scan({ initial: true });
    this.registry.markSynced();
    this.initialScan.raise();
    this.reportHealth();
    this.rescanTimer = setInterval(() => void this.scan(), this.rescanMs);
    this.rescanTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches.values()) w.watcher.close();
    this.watches.clear();
    clearTimeout(this.timer);
    clearInterval(this.rescanTimer);
    await this.scanning;
  }

  /** The directory has been read once (`start` resolved). */
  get hasSynced(): boolean {
    return this.initialScan.synced;
  }

  waitForSync(timeoutMs: number): Promise<boolean> {
    return this.initialScan.wait(timeoutMs);
  }

  sourceStatus(): { readonly type: 'manifests' } & ManifestSourceStatus {
    return { type: 'manifests', ...this.status() };
  }

  status(): ManifestSourceStatus {
    return {
      directory: this.directory,
      lastScanAt: this.lastScanAt ? new Date(this.lastScanAt).toISOString() : null,
      watch: {
        state: this.allProblems().length === 0 ? 'watching' : 'degraded',
        directories: this.watches.size,
        settleMs: this.settleMs,
        rescanMs: this.rescanMs,
        problems: this.allProblems(),
      },
      files: [...new Set([...this.files.keys(), ...this.unsettled.keys()])].sort().map((file) => {
        const state = this.files.get(file);
        return {
          file,
          objects: state?.objects.length ?? 0,
          ...(state?.error ? { error: state.error } : {}),
          ...(this.unsettled.has(file) ? { pending: true as const } : {}),
        };
      }),
    };
  }

  /** Scans after `delayMs`, or sooner if a scan is already due sooner. */
  private scheduleScan(delayMs: number): void {
    if (this.stopped) return;
    const due = Date.now() + delayMs;
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      void this.scan();
    }, delayMs);
  }

  /** An event restarts the quiet period: a burst of writes is read once, after it. */
  private onEvent(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    this.scheduleScan(this.settleMs);
  }

  /** Scans are serialized; a change during a scan triggers exactly one more. */
  private async scan(options: { initial?: boolean } = {}): Promise<void> {
    if (this.scanning) {
      this.rescanRequested = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescanRequested = false;
        try {
          await this.scanOnce(options.initial === true);
          this.scanProblem = undefined;
        } catch (err) {
          const error = `cannot read the directory: ${errorMessage(err)}`;
          if (this.scanProblem?.error !== error) {
            this.scanProblem = { directory: this.directory, error, at: new Date().toISOString() };
            this.logger.error({ err, directory: this.directory }, 'manifest scan failed; keeping last good state');
          }
        }
        if (!options.initial) this.reportHealth();
      } while (this.rescanRequested && !this.stopped);
    })();
    try {
      await this.scanning;
    } finally {
      this.scanning = undefined;
    }
  }

  private async scanOnce(initial: boolean): Promise<void> {
    const listing = await listManifests(this.directory);
    // A change made between the listing and a new watch is caught by listing once more.
    if (await this.rewatch(listing)) this.rescanRequested = true;
    const now = Date.now();
    const present = new Set([...listing.files, ...listing.broken.keys()]);
    for (const file of [...this.files.keys(), ...this.unsettled.keys()]) {
      if (present.has(file) || [...listing.unreadable.keys()].some((dir) => file.startsWith(dir + path.sep))) {
        this.missing.delete(file);
        continue;
      }
      const since = this.missing.get(file) ?? now;
      if (!initial && now - since < this.settleMs) {
        this.missing.set(file, since);
        this.scheduleScan(this.settleMs - (now - since));
        continue;
      }
      this.missing.delete(file);
      this.unsettled.delete(file);
      if (this.files.delete(file)) this.logger.info({ file: this.relative(file) }, 'manifest removed');
    }
    for (const [file, reason] of listing.broken) this.recordError(file, 'broken', 0, reason);
    for (const file of listing.files) await this.readFileState(file, initial);
    this.lastScanAt = Date.now();
    this.applyDiff();
  }

  /**
   * One watch per directory; set again for a directory replaced since, dropped for one gone.
   * Returns whether a watch was set (or set again).
   */
  private async rewatch(listing: ManifestListing): Promise<boolean> {
    for (const [dir, w] of this.watches) {
      if (!listing.directories.has(dir)) {
        w.watcher.close();
        this.watches.delete(dir);
      }
    }
    for (const dir of [...this.problems.keys()]) {
      if (!listing.directories.has(dir) && !listing.unreadable.has(dir)) this.problems.delete(dir);
    }
    for (const [dir, reason] of listing.unreadable) this.setProblem(dir, `cannot list: ${reason}`);
    const added = await Promise.all([...listing.directories].map((dir) => this.ensureWatch(dir)));
    return added.includes(true);
  }

  private async ensureWatch(dir: string): Promise<boolean> {
    let identity: string;
    try {
      const info = await stat(dir);
      identity = `${info.dev}:${info.ino}`;
    } catch {
      return false; // gone since the listing; the next scan drops it
    }
    if (this.stopped) return false;
    const current = this.watches.get(dir);
    if (current?.identity === identity) return false;
    current?.watcher.close();
    this.watches.delete(dir);
    try {
      const watcher = this.watchDirectory(dir, () => this.onEvent());
      watcher.on('error', (err) => {
        watcher.close();
        if (this.watches.get(dir)?.watcher === watcher) this.watches.delete(dir);
        this.setProblem(dir, `watch failed: ${errorMessage(err)}`);
        this.reportHealth();
        this.onEvent(); // the next scan sets the watch again if it can
      });
      this.watches.set(dir, { watcher, identity });
      if (this.problems.get(dir)?.error.startsWith('cannot watch') || this.problems.get(dir)?.error.startsWith('watch failed')) {
        this.problems.delete(dir);
        this.reportHealth();
      }
      if (current) this.logger.info({ directory: this.relative(dir) || '.' }, 'directory replaced; watching the new one');
      return true;
    } catch (err) {
      this.setProblem(dir, `cannot watch: ${errorMessage(err)}`);
      this.reportHealth();
      return false;
    }
  }

  private setProblem(directory: string, error: string): void {
    if (this.problems.get(directory)?.error === error) return;
    this.problems.set(directory, { directory, error, at: new Date().toISOString() });
    this.logger.error({ directory, error, rescanMs: this.rescanMs }, 'manifest directory not watched; changes there are seen by the periodic rescan only');
  }

  private allProblems(): ManifestWatchProblem[] {
    return [...(this.scanProblem ? [this.scanProblem] : []), ...this.problems.values()];
  }

  /** Degraded while a directory is not watched or cannot be read; Synced again once it is. */
  private reportHealth(): void {
    if (this.registry.state === ClusterState.Syncing) return; // start() reports once the first scan is in
    const [first] = this.allProblems();
    if (first) {
      this.registry.setState(ClusterState.Degraded, `${first.directory}: ${first.error}`);
    } else if (this.registry.state === ClusterState.Degraded) {
      this.registry.setState(ClusterState.Synced);
    }
  }

  /**
   * Reads a changed file once it is stable: unchanged (by stamp) for the settle time, going by
   * its own timestamps or by how long this source has seen it so, and unchanged while it was
   * read. At start every file is taken as it is.
   */
  private async readFileState(file: string, initial: boolean): Promise<void> {
    const previous = this.files.get(file);
    const before = await stampOf(file);
    if (before === undefined) return; // removed between listing and reading: the next scan sees it gone
    if (previous?.stamp === before.stamp) {
      this.unsettled.delete(file);
      return;
    }
    const now = Date.now();
    const seen = this.unsettled.get(file);
    const since = seen?.stamp === before.stamp ? seen.since : now;
    const quietFor = Math.max(now - before.changedAt, now - since);
    if (!initial && quietFor < this.settleMs) {
      this.unsettled.set(file, { stamp: before.stamp, since });
      this.scheduleScan(this.settleMs - quietFor);
      return;
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return; // removed between stat and read: the next scan sees it gone; the others still apply
    }
    const after = await stampOf(file);
    if (after?.stamp !== before.stamp) {
      this.unsettled.set(file, { stamp: after?.stamp ?? '', since: Date.now() });
      this.scheduleScan(this.settleMs);
      return;
    }
    this.unsettled.delete(file);
    try {
      const parsed = await parseManifestInSlices(text);
      const config = parsed.config.map((c) => ({ value: c.value, origin: `${this.relative(file)}:${c.line}` }));
      this.files.set(file, { stamp: before.stamp, objects: parsed.objects, config });
      if (previous?.error) this.logger.info({ file: this.relative(file) }, 'manifest fixed');
    } catch (err) {
      const document = err instanceof ManifestError ? err.document : 0;
      const reason = err instanceof ManifestError ? err.reason : errorMessage(err);
      this.recordError(file, before.stamp, document, reason);
    }
  }

  private recordError(file: string, stamp: string, document: number, reason: string): void {
    const previous = this.files.get(file);
    if (previous?.stamp === stamp && previous.error?.reason === reason) return;
    this.files.set(file, { stamp, objects: previous?.objects ?? [], config: previous?.config ?? [], error: { document, reason, at: new Date().toISOString() } });
    this.logger.error(
      { file: this.relative(file), document, reason, kept: previous?.objects.length ?? 0 },
      'invalid manifest; keeping its last good objects',
    );
  }

  private applyDiff(): void {
    this.applyConfig();
    const next = new Map<string, { event: KubeEvent; fingerprint: string }>();
    for (const [file, state] of this.files) {
      for (const event of state.objects) {
        const key = `${event.kind}/${objectKey(event.object)}`;
        if (next.has(key)) {
          this.logger.warn({ file: this.relative(file), object: key }, 'object defined twice; the later file wins');
        }
        const kept = this.applied.get(key);
        // Objects of an unchanged file are the same instances: no need to serialize them again.
        const fingerprint = kept?.event.object === event.object ? kept.fingerprint : JSON.stringify(event.object);
        next.set(key, { event, fingerprint });
      }
    }
    const events: KubeEvent[] = [];
    for (const [key, entry] of next) {
      if (this.applied.get(key)?.fingerprint !== entry.fingerprint) events.push(entry.event);
    }
    for (const [key, entry] of this.applied) {
      if (!next.has(key)) events.push({ ...entry.event, type: 'delete' } as KubeEvent);
    }
    this.applied = next;
    if (events.length > 0) {
      this.logger.info({ events: events.length, objects: next.size }, 'manifests applied');
      this.registry.apply(events);
    }
  }

  /** Hands the directory's configuration documents on, when they differ from the last ones. */
  private applyConfig(): void {
    if (!this.onConfig) return;
    const documents = [...this.files.keys()].sort().flatMap((f) => this.files.get(f)?.config ?? []);
    const fingerprint = JSON.stringify(documents);
    if (fingerprint === this.configFingerprint) return;
    this.configFingerprint = fingerprint;
    this.onConfig(documents);
  }

  private relative(file: string): string {
    return path.relative(this.directory, file);
  }
}

async function stampOf(file: string): Promise<{ stamp: string; changedAt: number } | undefined> {
  try {
    const info = await stat(file);
    return { stamp: `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`, changedAt: Math.max(info.mtimeMs, info.ctimeMs) };
  } catch {
    return undefined;
  }
}
