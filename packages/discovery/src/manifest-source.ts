import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, type Logger } from '@meridian/model';
import type { ClusterRegistry } from './cluster-registry.ts';
import { objectKey, type KubeEvent } from './kube-objects.ts';
import { parseManifest, ManifestError } from './manifest-parser.ts';

export interface ManifestSourceOptions {
  readonly directory: string;
  readonly registry: ClusterRegistry;
  readonly logger: Logger;
  /** Quiet time after a file event before rescanning, so an editor's save is read once. */
  readonly settleMs?: number;
}

interface FileState {
  readonly mtimeMs: number;
  readonly size: number;
  /** The last good objects of this file; kept while the file is broken. */
  readonly objects: readonly KubeEvent[];
  readonly error?: { readonly document: number; readonly reason: string; readonly at: string };
}

export interface ManifestFileStatus {
  readonly file: string;
  readonly objects: number;
  readonly error?: { readonly document: number; readonly reason: string; readonly at: string };
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * A cluster described by a directory of ordinary Kubernetes manifests: read at start and
 * rescanned on every change. A broken file is reported and its last good objects stay.
 */
export class ManifestDirectorySource {
  private readonly directory: string;
  private readonly registry: ClusterRegistry;
  private readonly logger: Logger;
  private readonly settleMs: number;
  private readonly files = new Map<string, FileState>();
  /** What the registry currently holds, by `kind/key`, with a fingerprint to diff against. */
  private applied = new Map<string, { event: KubeEvent; fingerprint: string }>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanRequested = false;
  private lastScanAt: number | undefined;

  constructor(options: ManifestSourceOptions) {
    this.directory = path.resolve(options.directory);
    this.registry = options.registry;
    this.settleMs = options.settleMs ?? 50;
    this.logger = options.logger.child({ component: 'manifest-source', cluster: options.registry.id });
  }

  /** Reads the directory once, marks the cluster synced, then watches for changes. */
  async start(): Promise<void> {
    await this.scan();
    this.registry.markSynced();
    this.watcher = watch(this.directory, { recursive: true }, () => this.scheduleScan());
    this.watcher.on('error', (err) => this.logger.error({ err, directory: this.directory }, 'watch failed'));
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    await this.scanning;
  }

  status(): { directory: string; lastScanAt: string | null; files: ManifestFileStatus[] } {
    return {
      directory: this.directory,
      lastScanAt: this.lastScanAt ? new Date(this.lastScanAt).toISOString() : null,
      files: [...this.files.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([file, state]) => ({
        file,
        objects: state.objects.length,
        ...(state.error ? { error: state.error } : {}),
      })),
    };
  }

  private scheduleScan(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.scan();
    }, this.settleMs);
  }

  /** Scans are serialized; a change during a scan triggers exactly one more. */
  private async scan(): Promise<void> {
    if (this.scanning) {
      this.rescanRequested = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescanRequested = false;
        try {
          await this.scanOnce();
        } catch (err) {
          this.logger.error({ err, directory: this.directory }, 'manifest scan failed; keeping last good state');
        }
      } while (this.rescanRequested);
    })();
    try {
      await this.scanning;
    } finally {
      this.scanning = undefined;
    }
  }

  private async scanOnce(): Promise<void> {
    const present = await listManifestFiles(this.directory);
    for (const file of [...this.files.keys()]) {
      if (!present.includes(file)) {
        this.files.delete(file);
        this.logger.info({ file: this.relative(file) }, 'manifest removed');
      }
    }
    for (const file of present) await this.readFileState(file);
    this.lastScanAt = Date.now();
    this.applyDiff();
  }

  private async readFileState(file: string): Promise<void> {
    const previous = this.files.get(file);
    let info;
    try {
      info = await stat(file);
    } catch {
      return; // removed between listing and reading: the next scan sees it gone
    }
    if (previous && previous.mtimeMs === info.mtimeMs && previous.size === info.size) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return; // removed between stat and read: the next scan sees it gone; the others still apply
    }
    try {
      const parsed = parseManifest(text);
      this.files.set(file, { mtimeMs: info.mtimeMs, size: info.size, objects: parsed.objects });
      if (previous?.error) this.logger.info({ file: this.relative(file) }, 'manifest fixed');
    } catch (err) {
      const document = err instanceof ManifestError ? err.document : 0;
      const reason = err instanceof ManifestError ? err.reason : errorMessage(err);
      this.files.set(file, {
        mtimeMs: info.mtimeMs,
        size: info.size,
        objects: previous?.objects ?? [],
        error: { document, reason, at: new Date().toISOString() },
      });
      this.logger.error(
        { file: this.relative(file), document, reason, kept: previous?.objects.length ?? 0 },
        'invalid manifest; keeping its last good objects',
      );
    }
  }

  private applyDiff(): void {
    const next = new Map<string, { event: KubeEvent; fingerprint: string }>();
    for (const [file, state] of this.files) {
      for (const event of state.objects) {
        const key = `${event.kind}/${objectKey(event.object)}`;
        if (next.has(key)) {
          this.logger.warn({ file: this.relative(file), object: key }, 'object defined twice; the later file wins');
        }
        next.set(key, { event, fingerprint: JSON.stringify(event.object) });
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

  private relative(file: string): string {
    return path.relative(this.directory, file);
  }
}

async function listManifestFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && MANIFEST_EXTENSIONS.has(path.extname(e.name)) && !e.name.startsWith('.'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
