/**
 * The keys behind RequestAuthentication `jwksUri`s, fetched by Meridian and sent inline (as
 * istiod does by default), so a sidecar needs no route to the issuer. A URI is fetched when a
 * push first asks for it and refreshed on a timer; until its first fetch succeeds, the
 * providers get keys nobody holds (`jwt-authn.ts`) and its tokens are refused. A failed
 * refresh keeps the last good keys. New keys push the policies again.
 */
import { errorMessage, type Logger } from '@meridian/model';

export interface JwksFetcherOptions {
  readonly logger: Logger;
  /** Called when a URI's keys change: a push must carry them. */
  readonly onChange: (uri: string) => void;
  /** Default 20 minutes (Istio's refresh interval). */
  readonly refreshMs?: number;
  /** After a failure; default 30 s. */
  readonly retryMs?: number;
  readonly timeoutMs?: number;
}

interface Entry {
  keys?: string;
  fetchedAt?: number;
  error?: string;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
}

/** A JWKS larger than this is refused: it is a key set, not a download. */
const MAX_JWKS_BYTES = 1 << 20;

export class JwksFetcher {
  private readonly entries = new Map<string, Entry>();
  private readonly options: JwksFetcherOptions;
  private readonly logger: Logger;
  private stopped = false;

  constructor(options: JwksFetcherOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'jwks' });
  }

  /** The keys last fetched from `uri`; the first ask starts fetching. */
  get(uri: string): string | undefined {
    let entry = this.entries.get(uri);
    if (!entry) {
      entry = {};
      this.entries.set(uri, entry);
      void this.refresh(uri, entry);
    }
    return entry.keys;
  }

  /** Stops fetching URIs no policy names any more (they would be refreshed forever). */
  retain(uris: ReadonlySet<string>): void {
    for (const [uri, entry] of this.entries) {
      if (uris.has(uri)) continue;
      clearTimeout(entry.timer);
      this.entries.delete(uri);
    }
  }

  /** Resolves once every fetch under way has ended (for tests and the first push). */
  async settled(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.inFlight));
  }

  view(): object {
    return Object.fromEntries(
      [...this.entries].map(([uri, e]) => [
        uri,
        { fetched: e.keys !== undefined, ...(e.fetchedAt ? { fetchedAt: new Date(e.fetchedAt).toISOString() } : {}), ...(e.error ? { lastError: e.error } : {}), keys: e.keys ? (JSON.parse(e.keys) as { keys: unknown[] }).keys.length : 0 },
      ]),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
  }

  private refresh(uri: string, entry: Entry): Promise<void> {
    entry.inFlight ??= (async () => {
      let next = this.options.refreshMs ?? 20 * 60_000;
      try {
        const keys = await this.fetchKeys(uri);
        entry.error = undefined;
        entry.fetchedAt = Date.now();
        if (keys !== entry.keys) {
          const first = entry.keys === undefined;
          entry.keys = keys;
          this.logger.info({ uri, first }, 'JWKS fetched');
          this.options.onChange(uri);
        }
      } catch (err) {
        entry.error = errorMessage(err);
        next = this.options.retryMs ?? 30_000;
        this.logger.warn({ uri, reason: entry.error, keptKeys: entry.keys !== undefined }, 'JWKS fetch failed');
      } finally {
        entry.inFlight = undefined;
        // Dropped by `retain` meanwhile: no more refreshes.
        if (!this.stopped && this.entries.get(uri) === entry) {
          entry.timer = setTimeout(() => void this.refresh(uri, entry), next);
          entry.timer.unref();
        }
      }
    })();
    return entry.inFlight;
  }

  private async fetchKeys(uri: string): Promise<string> {
    const res = await fetch(uri, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000), redirect: 'follow' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error(`larger than ${MAX_JWKS_BYTES} bytes`);
    const parsed = JSON.parse(text) as { keys?: unknown };
    if (!Array.isArray(parsed.keys)) throw new Error('not a JSON Web Key Set (no keys array)');
    // Canonical text: the same keys served with other whitespace are no change.
    return JSON.stringify({ keys: parsed.keys });
  }
}
