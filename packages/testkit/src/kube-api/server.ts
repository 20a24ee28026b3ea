// KubeApiServer: the facade tests hold. It owns one cluster's state and wires
// the store, watch hub, auth, faults and listener together; every behaviour
// lives in the module named after it.
import { TokenAuthenticator, type ServiceAccountTokenRequest, type TokenSpec } from './auth.ts';
import { RuleAuthorizer, type AuthorizationPolicy } from './authz.ts';
import { DEFAULT_VERSION, type VersionInfo } from './discovery.ts';
import { FaultInjector, type FailOptions, type FaultMatcher } from './faults.ts';
import { kubeconfigObject, kubeconfigYaml, makeKubeConfig, type KubeconfigObject, type KubeconfigOptions } from './kubeconfig.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { HttpListener } from './listener.ts';
import { RequestLog, type RequestFilter, type RequestRecord } from './request-log.ts';
import { BUILTIN_RESOURCES, ResourceRegistry, type ResourceType } from './resources.ts';
import { createRequestHandler } from './router.ts';
import { parseKubeYaml } from './seed.ts';
import { ObjectStore, type StoreEvent } from './store.ts';
import type { KubeObject, KubeObjectInput, StatusBody } from './types.ts';
import { WatchHub, type WatchInfo } from './watch.ts';

export interface KubeApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port, kept across stop()/start()). */
  port?: number;
  /** Bearer token → user. */
  tokens?: Readonly<Record<string, TokenSpec>>;
  /** Let requests without a token in as system:anonymous. Default: true when no tokens are configured. */
  anonymous?: boolean;
  /** Default 'AlwaysAllow'. */
  authorization?: AuthorizationPolicy;
  /** Audiences the API itself accepts. Default the in-cluster kubernetes service names. */
  apiAudiences?: readonly string[];
  /** Changes kept for watch replay and consistent paging; older ones are compacted. Default 1000. */
  historySize?: number;
  /** BOOKMARK period for watches with allowWatchBookmarks=true. Default 60 s, as a real server. */
  bookmarkIntervalMs?: number;
  /** Answer a watch from a compacted RV with HTTP 410 rather than an ERROR event. Default false (watch-cache behaviour). */
  watchGoneAsHttpStatus?: boolean;
  /** Close watches that did not ask for timeoutSeconds after this many seconds; default 0 (never). */
  defaultWatchTimeoutSeconds?: number;
  /** Extra resource types (e.g. CRDs), served like the built-in ones. */
  resources?: readonly ResourceType[];
  /** Objects to create at start, as objects or Kubernetes YAML. */
  seed?: string | readonly KubeObjectInput[];
  /** Reported by /version. */
  version?: VersionInfo;
  initialResourceVersion?: number;
}

/** Identifies one object for the programmatic API. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export class KubeApiError extends Error {
  readonly status: StatusBody;

  constructor(status: StatusBody) {
    super(status.message);
    this.name = 'KubeApiError';
    this.status = status;
  }
}

export class KubeApiServer {
  readonly #registry: ResourceRegistry;
  readonly #store: ObjectStore;
  readonly #watches: WatchHub;
  readonly #authn: TokenAuthenticator;
  readonly #authz: RuleAuthorizer;
  readonly #faults = new FaultInjector();
  readonly #log = new RequestLog();
  readonly #listener: HttpListener;
  #anonymous: boolean;

  /** Creates and starts a server; close it when done. */
  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const server = new KubeApiServer(options);
    await server.start();
    return server;
  }

  constructor(options: KubeApiServerOptions = {}) {
    this.#registry = new ResourceRegistry([...BUILTIN_RESOURCES, ...(options.resources ?? [])]);
    this.#store = new ObjectStore({
      ...(options.historySize !== undefined ? { historySize: options.historySize } : {}),
      ...(options.initialResourceVersion !== undefined ? { initialResourceVersion: options.initialResourceVersion } : {}),
    });
    this.#watches = new WatchHub(this.#store, {
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
      goneAsHttpStatus: options.watchGoneAsHttpStatus ?? false,
      defaultTimeoutSeconds: options.defaultWatchTimeoutSeconds ?? 0,
    });
    this.#authn = new TokenAuthenticator({
      ...(options.tokens !== undefined ? { tokens: options.tokens } : {}),
      ...(options.apiAudiences !== undefined ? { apiAudiences: options.apiAudiences } : {}),
    });
    this.#anonymous = options.anonymous ?? Object.keys(options.tokens ?? {}).length === 0;
    this.#authz = new RuleAuthorizer(options.authorization ?? 'AlwaysAllow');
    const handler = createRequestHandler({
      registry: this.#registry,
      store: this.#store,
      watches: this.#watches,
      authn: this.#authn,
      anonymous: () => this.#anonymous,
      authz: this.#authz,
      faults: this.#faults,
      log: this.#log,
      version: options.version ?? DEFAULT_VERSION,
      serverAddress: () => `${this.#listener.host}:${this.#listener.port}`,
    });
    this.#listener = new HttpListener(handler, options.host ?? '127.0.0.1', options.port ?? 0);
    if (options.seed !== undefined) {
      for (const obj of typeof options.seed === 'string' ? parseKubeYaml(options.seed) : options.seed) this.upsert(obj);
    }
  }

  // ---- lifecycle -------------------------------------------------------------

  /** Starts listening; after stop(), listens again on the same port with the same state. */
  async start(): Promise<void> {
    await this.#listener.listen();
  }

  /** An API outage: the port stops accepting and every open connection (watches included) is cut. State is kept. */
  async stop(): Promise<void> {
    this.#watches.dropAll(true);
    await this.#listener.close();
  }

  /** Stops for good; same as stop(), named for `after(() => server.close())`. */
  async close(): Promise<void> {
    this.#faults.clear();
    await this.stop();
  }

  get running(): boolean {
    return this.#listener.listening;
  }

  get port(): number {
    return this.#listener.port;
  }

  /** e.g. http://127.0.0.1:40123 */
  get url(): string {
    return `http://${this.#listener.host}:${this.#listener.port}`;
  }

  // ---- state -----------------------------------------------------------------

  /** The latest resourceVersion handed out, as a string like clients see it. */
  get resourceVersion(): string {
    return String(this.#store.resourceVersion);
  }

  #typeOf(apiVersion: string | undefined, kind: string | undefined): ResourceType {
    const rt = this.#registry.byKind(apiVersion ?? '', kind ?? '');
    if (rt === undefined || rt.storage !== 'stored') throw new Error(`kube-api: unknown kind ${apiVersion ?? '?'}/${kind ?? '?'}`);
    return rt;
  }

  /** Creates or replaces an object (no resourceVersion check), as a controller in the cluster would; watchers see ADDED or MODIFIED. */
  upsert(obj: KubeObjectInput): KubeObject {
    // A JSON round trip gives the object exactly the shape it would have on the wire.
    const input = JSON.parse(JSON.stringify(obj)) as KubeObject;
    const rt = this.#typeOf(input.apiVersion, input.kind);
    const ns = rt.namespaced ? (input.metadata?.namespace ?? 'default') : undefined;
    const name = input.metadata?.name ?? '';
    delete input.metadata?.resourceVersion;
    const result = name && this.#store.get(rt, ns, name) !== undefined ? this.#store.update(rt, input, 'all', ns) : this.#store.create(rt, input, ns);
    if (!result.ok) throw new KubeApiError(result.status);
    return result.value;
  }

  /** Upserts every object in a Kubernetes YAML stream. */
  seedYaml(text: string): KubeObject[] {
    return parseKubeYaml(text).map((o) => this.upsert(o));
  }

  /** Deletes an object; false when it did not exist. */
  remove(ref: ObjectRef): boolean {
    return this.#store.delete(this.#typeOf(ref.apiVersion, ref.kind), ref.namespace ?? 'default', ref.name).ok;
  }

  get(ref: ObjectRef): KubeObject | undefined {
    return this.#store.get(this.#typeOf(ref.apiVersion, ref.kind), ref.namespace ?? 'default', ref.name);
  }

  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const listed = this.#store.list(this.#typeOf(apiVersion, kind), namespace);
    return listed.ok ? listed.value.items.map(([, o]) => structuredClone(o)) : [];
  }

  /** Every change from now on, for tests that want to observe the server side. Returns an unsubscribe function. */
  onChange(listener: (event: StoreEvent) => void): () => void {
    return this.#store.subscribe(listener);
  }

  /**
   * Moves the compaction point to the current RV: watches and continue tokens from
   * before now get 410. With `expireWatches`, open watches also end with ERROR 410
   * (what a watcher that fell behind sees), so informers relist.
   */
  compact(options: { expireWatches?: boolean } = {}): void {
    this.#store.compact();
    if (options.expireWatches) this.#watches.expireAll();
  }

  // ---- faults ----------------------------------------------------------------

  /** Closes every open watch. Clean by default (client-node re-watches from its last RV); `abrupt` resets the connections (client-node reports an error and its informer stops). */
  dropWatches(options: { abrupt?: boolean } = {}): number {
    return this.#watches.dropAll(options.abrupt ?? false);
  }

  /** Delays every response by `ms` (0 to stop). */
  delay(ms: number): void {
    this.#faults.delayMs = ms;
  }

  /** The next `count` matching requests fail with `status` (default 500) and a Status body. */
  failNext(count: number, statusOrOptions: number | FailOptions = 500): void {
    this.#faults.failNext(count, typeof statusOrOptions === 'number' ? { status: statusOrOptions } : statusOrOptions);
  }

  /** Every matching request fails until clearFaults(). */
  failAll(statusOrOptions: number | FailOptions = 500): void {
    this.#faults.failAll(typeof statusOrOptions === 'number' ? { status: statusOrOptions } : statusOrOptions);
  }

  /**
   * Holds matching requests until the returned release function is called, so a
   * test can change state while, say, a re-watch is in flight. clearFaults() and
   * close() release everything.
   */
  holdRequests(match?: FaultMatcher): () => void {
    return this.#faults.hold(match);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  // ---- authentication and authorization --------------------------------------

  addToken(token: string, spec: TokenSpec): void {
    this.#authn.add(token, spec);
  }

  removeToken(token: string): boolean {
    return this.#authn.remove(token);
  }

  set anonymous(allowed: boolean) {
    this.#anonymous = allowed;
  }

  get anonymous(): boolean {
    return this.#anonymous;
  }

  setAuthorization(policy: AuthorizationPolicy): void {
    this.#authz.policy = policy;
  }

  /** Mints a service-account token this server accepts (as TokenRequest does), without an API call. */
  issueToken(request: ServiceAccountTokenRequest): string {
    return this.#authn.issueServiceAccountToken(request).token;
  }

  // ---- observation -----------------------------------------------------------

  requests(filter?: RequestFilter): RequestRecord[] {
    return this.#log.entries(filter);
  }

  clearRequests(): void {
    this.#log.clear();
  }

  watches(): WatchInfo[] {
    return this.#watches.list();
  }

  /**
   * Resolves once at least `count` watches are open (on `resource`, e.g. 'services'
   * or 'endpointslices.discovery.k8s.io', when given). Lets a test make a change only
   * after a component is watching, instead of sleeping.
   */
  waitForWatches(count: number, options: { resource?: string; timeoutMs?: number } = {}): Promise<void> {
    return this.#watches.waitFor(
      (ws) => ws.filter((w) => options.resource === undefined || w.resource === options.resource).length >= count,
      options.timeoutMs ?? 10_000,
    );
  }

  // ---- clients ---------------------------------------------------------------

  kubeconfig(options: KubeconfigOptions = {}): KubeconfigObject {
    return kubeconfigObject(this.url, options);
  }

  kubeconfigYaml(options: KubeconfigOptions = {}): string {
    return kubeconfigYaml(this.url, options);
  }

  /** A client-node KubeConfig for this server (loaded from kubeconfig()). */
  kubeConfig(options: KubeconfigOptions = {}): KubeConfig {
    return makeKubeConfig(this.url, options);
  }
}
