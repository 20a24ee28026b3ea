import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { errorMessage, type Logger } from '@meridian/model';

/**
 * SPIFFE federation, https_web profile (SPIFFE Trust Domain and Bundle spec §5.2): another
 * trust domain's bundle is fetched over HTTPS authenticated by Web PKI (plus an optional
 * private CA), and kept per trust domain. It is never merged into our own roots: a peer's
 * roots vouch only for SVIDs of that peer's trust domain.
 */

/** A bundle that passed validation: x509-svid authorities only, each a CA certificate. */
export interface ParsedSpiffeBundle {
  readonly rootsDer: readonly Buffer[];
  readonly sequence: number | undefined;
  readonly refreshHintSeconds: number | undefined;
}

export type SpiffeBundleParseResult =
  | { readonly ok: true; readonly bundle: ParsedSpiffeBundle }
  | { readonly ok: false; readonly errors: readonly string[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseAuthority(key: Record<string, unknown>, at: string, errors: string[]): Buffer | undefined {
  const x5c = key['x5c'];
  // The spec wants exactly one certificate per x509-svid key: the authority itself, no chain.
  if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== 'string') {
    errors.push(`${at}.x5c: must hold exactly one base64 DER certificate`);
    return undefined;
  }
  const b64 = x5c[0];
  if (!BASE64.test(b64)) {
    errors.push(`${at}.x5c[0]: not base64 (x5c is base64, not base64url)`);
    return undefined;
  }
  const der = Buffer.from(b64, 'base64');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    errors.push(`${at}.x5c[0]: not an X.509 certificate`);
    return undefined;
  }
  // A leaf here would let whoever holds its key mint SVIDs for that domain in our eyes.
  if (!cert.ca) errors.push(`${at}.x5c[0]: ${cert.subject} is not a CA certificate`);
  return der;
}

/**
 * Parses a SPIFFE bundle (JWKS). Keys with another `use` (jwt-svid, or anything unknown) are
 * skipped as the spec asks; a malformed x509-svid key rejects the whole bundle, so a bad
 * publish never silently shrinks what we trust.
 */
export function parseSpiffeBundle(text: string): SpiffeBundleParseResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`(document): not JSON: ${errorMessage(err)}`] };
  }
  if (!isObject(doc)) return { ok: false, errors: ['(document): not a JSON object'] };
  const errors: string[] = [];
  const keys = doc['keys'];
  if (!Array.isArray(keys)) return { ok: false, errors: ['keys: missing or not an array'] };
  const rootsDer: Buffer[] = [];
  keys.forEach((key: unknown, i) => {
    const at = `keys[${i}]`;
    if (!isObject(key)) {
      errors.push(`${at}: not an object`);
      return;
    }
    if (key['use'] !== 'x509-svid') return;
    const der = parseAuthority(key, at, errors);
    if (der && !rootsDer.some((d) => d.equals(der))) rootsDer.push(der);
  });
  const hint = doc['spiffe_refresh_hint'];
  if (hint !== undefined && (typeof hint !== 'number' || !Number.isFinite(hint) || hint <= 0)) {
    errors.push('spiffe_refresh_hint: must be a positive number of seconds');
  }
  const sequence = doc['spiffe_sequence'];
  if (sequence !== undefined && (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 0)) {
    errors.push('spiffe_sequence: must be a non-negative integer');
  }
  if (errors.length === 0 && rootsDer.length === 0) errors.push('keys: no key with use "x509-svid"');
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    bundle: {
      rootsDer,
      sequence: typeof sequence === 'number' ? sequence : undefined,
      refreshHintSeconds: typeof hint === 'number' ? hint : undefined,
    },
  };
}

export const REFRESH_DEFAULT_SECONDS = 300;
export const REFRESH_MIN_SECONDS = 30;
export const REFRESH_MAX_SECONDS = 3600;

/**
 * Seconds until the next fetch. The publisher's hint wins within [30 s, 1 h], so a peer can
 * neither hammer us nor make us sit on a revoked root for a day. An operator who sets
 * `refreshHintSeconds` below 30 s lowers the floor to that value (at least 1 s).
 */
export function refreshDelaySeconds(bundleHint: number | undefined, configured: number | undefined): number {
  const floor = configured === undefined ? REFRESH_MIN_SECONDS : Math.max(1, Math.min(REFRESH_MIN_SECONDS, configured));
  const wanted = bundleHint ?? configured ?? REFRESH_DEFAULT_SECONDS;
  return Math.min(REFRESH_MAX_SECONDS, Math.max(floor, wanted));
}

/** Fetches a bundle document; injected in tests, node:https otherwise. */
export type BundleTransport = (endpoint: URL, extraCaPem: string | undefined) => Promise<string>;

const FETCH_TIMEOUT_MS = 10_000;
const MAX_BUNDLE_BYTES = 1024 * 1024;

/** GET over HTTPS, trusting Web PKI plus `extraCaPem`; anything but a 200 is an error. */
export const httpsTransport: BundleTransport = (endpoint, extraCaPem) =>
  new Promise<string>((resolve, reject) => {
    if (endpoint.protocol !== 'https:') {
      reject(new Error(`bundle endpoint must be https: ${endpoint.href}`));
      return;
    }
    const req = request(
      endpoint,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: FETCH_TIMEOUT_MS,
        // Setting `ca` replaces Node's default roots, so Web PKI is added back explicitly.
        ...(extraCaPem === undefined ? {} : { ca: [...rootCertificates, extraCaPem] }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BUNDLE_BYTES) {
            req.destroy(new Error(`bundle larger than ${MAX_BUNDLE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`bundle endpoint answered HTTP ${res.statusCode ?? '?'}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });

export interface BundleFetcherOptions {
  readonly trustDomain: string;
  /** https URL of the peer's SPIFFE bundle endpoint. */
  readonly endpoint: string;
  /** PEM file of an extra CA for the endpoint's certificate; read on every fetch so it can rotate. */
  readonly caFile?: string;
  /** Used when the bundle carries no hint; setting it also lowers the refresh floor (tests). */
  readonly refreshHintSeconds?: number;
  readonly logger?: Logger;
  readonly transport?: BundleTransport;
  readonly clock?: () => number;
}

export interface FetchError {
  readonly message: string;
  readonly at: Date;
}

/** What a fetcher knows about one federated trust domain right now. */
export interface FederatedBundle {
  readonly trustDomain: string;
  readonly endpoint: string;
  /** The last good bundle's authorities; empty until one was fetched. */
  readonly roots: readonly Buffer[];
  readonly sequence: number | undefined;
  /** When the last good bundle was fetched. */
  readonly fetchedAt: Date | undefined;
  /** The last attempt's failure; cleared by the next success. The old roots stay meanwhile. */
  readonly lastError: FetchError | undefined;
  readonly nextRefreshAt: Date | undefined;
}

/**
 * Keeps one federated trust domain's bundle fresh. Failures never throw out of the timer:
 * they are recorded in `lastError`, logged, and the last good bundle keeps serving.
 */
export class BundleFetcher {
  readonly #opts: BundleFetcherOptions;
  readonly #transport: BundleTransport;
  readonly #clock: () => number;
  #state: FederatedBundle;
  #hint: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(options: BundleFetcherOptions) {
    this.#opts = options;
    this.#transport = options.transport ?? httpsTransport;
    this.#clock = options.clock ?? Date.now;
    this.#state = {
      trustDomain: options.trustDomain,
      endpoint: options.endpoint,
      roots: [],
      sequence: undefined,
      fetchedAt: undefined,
      lastError: undefined,
      nextRefreshAt: undefined,
    };
  }

  get trustDomain(): string {
    return this.#opts.trustDomain;
  }

  get state(): FederatedBundle {
    return this.#state;
  }

  /** Starts fetching; resolves after the first attempt, whatever its outcome. */
  start(): Promise<void> {
    this.#stopped = false;
    return this.refresh();
  }

  /** Fetches now (joining a fetch already under way) and reschedules. Never rejects. */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#fetchOnce().finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    return this.#inFlight;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #fetchOnce(): Promise<void> {
    const log = this.#opts.logger;
    try {
      const caPem = this.#opts.caFile === undefined ? undefined : await readFile(this.#opts.caFile, 'utf8');
      const text = await this.#transport(new URL(this.#opts.endpoint), caPem);
      const parsed = parseSpiffeBundle(text);
      if (!parsed.ok) throw new Error(`invalid SPIFFE bundle: ${parsed.errors.join('; ')}`);
      const { bundle } = parsed;
      const changed =
        bundle.rootsDer.length !== this.#state.roots.length || bundle.rootsDer.some((d, i) => !d.equals(this.#state.roots[i] ?? Buffer.alloc(0)));
      this.#hint = bundle.refreshHintSeconds;
      this.#state = { ...this.#state, roots: bundle.rootsDer, sequence: bundle.sequence, fetchedAt: new Date(this.#clock()), lastError: undefined };
      if (changed) log?.info({ trustDomain: this.trustDomain, roots: bundle.rootsDer.length, sequence: bundle.sequence }, 'federated trust bundle updated');
    } catch (err) {
      const message = errorMessage(err);
      this.#state = { ...this.#state, lastError: { message, at: new Date(this.#clock()) } };
      log?.warn(
        { trustDomain: this.trustDomain, endpoint: this.#opts.endpoint, error: message, keeping: this.#state.roots.length },
        'federated trust bundle fetch failed; keeping the last good bundle',
      );
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    let seconds = refreshDelaySeconds(this.#hint, this.#opts.refreshHintSeconds);
    // After a failure, retry sooner than a long hint would allow, but never faster than the floor.
    if (this.#state.lastError) seconds = Math.min(seconds, refreshDelaySeconds(REFRESH_MIN_SECONDS, this.#opts.refreshHintSeconds));
    this.#state = { ...this.#state, nextRefreshAt: new Date(this.#clock() + seconds * 1000) };
    this.#timer = setTimeout(() => void this.refresh(), seconds * 1000);
    // A refresh timer alone must not keep the process alive.
    this.#timer.unref();
  }
}
