import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Istio's buckets for pilot_proxy_convergence_time, so existing dashboards read the same. */
export const CONVERGENCE_BUCKETS = [0.1, 0.5, 1, 3, 5, 10, 20, 30];
/** Istio's buckets for pilot_xds_push_time, with 1–50 ms added: a push here usually takes that. */
export const PUSH_TIME_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 1, 3, 5, 10, 20, 30];

export interface Metrics {
  readonly registry: Registry;
  readonly connectedProxies: Gauge<'type' | 'cluster'>;
  readonly pushes: Counter<'type'>;
  readonly pushBytes: Counter<'type'>;
  readonly rejects: Counter<'type'>;
  readonly convergence: Histogram<'type'>;
  readonly debouncedPushes: Counter<'kind'>;
  readonly pushTime: Histogram<'kind'>;
  readonly clusters: Gauge<'state'>;
  readonly clusterState: Gauge<'cluster' | 'state'>;
  readonly clusterServices: Gauge<'cluster'>;
  readonly clusterCredentialExpiry: Gauge<'cluster'>;
  readonly clusterEvents: Counter<'cluster'>;
  readonly buildInfo: Gauge<'version'>;
  readonly manifestErrors: Gauge<'cluster'>;
  readonly rejectedEndpoints: Gauge<'cluster'>;
  readonly manifestWatchProblems: Gauge<'cluster'>;
  readonly conflicts: Gauge;
  readonly caIssued: Counter;
  readonly caFailed: Counter<'reason'>;
  readonly caLatency: Histogram;
  readonly caExpiry: Gauge;
}

const CLUSTER_STATES = ['Syncing', 'Synced', 'Degraded', 'Stale'] as const;

/** What the cluster gauges read when Prometheus scrapes. */
export interface ClusterFigures {
  readonly id: string;
  readonly state: string;
  readonly events: number;
  readonly objects: Readonly<Record<string, number>>;
  readonly rejectedEndpoints: { readonly count: number };
  /** When the cluster's credential (a kubeconfig token) expires, when it says (ISO time). */
  readonly credentialExpiry?: string | null;
  readonly source: {
    readonly type: string;
    readonly files?: ReadonlyArray<{ readonly error?: unknown }>;
    readonly watch?: { readonly problems: readonly unknown[] };
  };
}

/** One registry per server instance, so several instances in one process do not collide. */
export interface MetricSources {
  readonly clusters?: () => readonly ClusterFigures[];
  readonly conflicts?: () => number;
  /** When the CA signing certificate expires (ms since epoch). */
  readonly caNotAfter?: () => number | undefined;
}

export function createMetrics(sources: MetricSources = {}): Metrics {
  const clusterFigures = () => sources.clusters?.() ?? [];
  const conflictCount = () => sources.conflicts?.() ?? 0;
  const registry = new Registry();
  // Unprefixed, as every Prometheus client names them (`process_resident_memory_bytes`,
  // `nodejs_eventloop_lag_p99_seconds`; istiod's are `process_*` too): the job label says whose.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    connectedProxies: new Gauge({
      name: 'meridian_xds_connected_proxies',
      help: 'Proxies connected over ADS, by proxy type and cluster (like pilot_xds).',
      labelNames: ['type', 'cluster'],
      registers,
    }),
    pushes: new Counter({
      name: 'meridian_xds_pushes_total',
      help: 'xDS responses sent, by type (like pilot_xds_pushes).',
      labelNames: ['type'],
      registers,
    }),
    pushBytes: new Counter({
      name: 'meridian_xds_push_bytes_total',
      help: 'Bytes of xDS responses sent, by type.',
      labelNames: ['type'],
      registers,
    }),
    rejects: new Counter({
      name: 'meridian_xds_rejects_total',
      help: 'Responses rejected by proxies (NACK), by type (like pilot_total_xds_rejects).',
      labelNames: ['type'],
      registers,
    }),
    convergence: new Histogram({
      name: 'meridian_proxy_convergence_time_seconds',
      help: 'From the first change behind a push to the proxy ACK, by type (like pilot_proxy_convergence_time).',
      labelNames: ['type'],
      buckets: CONVERGENCE_BUCKETS,
      registers,
    }),
    pushTime: new Histogram({
      name: 'meridian_xds_push_time_seconds',
      help: 'From a debounced push to its responses built and written (or queued) for every connection, by kind (like pilot_xds_push_time).',
      labelNames: ['kind'],
      buckets: PUSH_TIME_BUCKETS,
      registers,
    }),
    debouncedPushes: new Counter({
      name: 'meridian_debounced_pushes_total',
      help: 'Pushes after debouncing, by kind (full or endpoints).',
      labelNames: ['kind'],
      registers,
    }),
    clusters: new Gauge({
      name: 'meridian_clusters',
      help: 'Clusters by state (Syncing, Synced, Degraded, Stale).',
      labelNames: ['state'],
      registers,
      collect() {
        const all = clusterFigures();
        for (const state of CLUSTER_STATES) this.set({ state }, all.filter((c) => c.state === state).length);
      },
    }),
    clusterState: new Gauge({
      name: 'meridian_cluster_state',
      help: '1 for the state each cluster is in.',
      labelNames: ['cluster', 'state'],
      registers,
      collect() {
        this.reset();
        for (const c of clusterFigures()) this.set({ cluster: c.id, state: c.state }, 1);
      },
    }),
    clusterEvents: new Counter({
      name: 'meridian_cluster_events_total',
      help: 'Kubernetes events (or manifest changes) applied per cluster since it was added (rate() it).',
      labelNames: ['cluster'],
      registers,
      collect() {
        // The registry counts; a counter mirrors it (reset when a cluster is re-added, as counters may).
        this.reset();
        for (const c of clusterFigures()) this.inc({ cluster: c.id }, c.events);
      },
    }),
    buildInfo: new Gauge({
      name: 'meridian_build_info',
      help: 'Always 1; the version label says which build runs (like istio_build).',
      labelNames: ['version'],
      registers,
    }),
    clusterCredentialExpiry: new Gauge({
      name: 'meridian_cluster_credential_expiry_seconds',
      help: "Seconds until a cluster's credential (its kubeconfig token) expires, for clusters whose token says.",
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of clusterFigures()) {
          if (c.credentialExpiry) this.set({ cluster: c.id }, Math.round((Date.parse(c.credentialExpiry) - Date.now()) / 1000));
        }
      },
    }),
    clusterServices: new Gauge({
      name: 'meridian_cluster_services',
      help: 'Services known per cluster.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of clusterFigures()) this.set({ cluster: c.id }, c.objects['services'] ?? 0);
      },
    }),
    caIssued: new Counter({
      name: 'meridian_ca_certificates_issued_total',
      help: 'Workload certificates issued (like citadel_server_success_cert_issuance_count).',
      registers,
    }),
    caFailed: new Counter({
      name: 'meridian_ca_certificate_failures_total',
      help: 'Certificate requests refused, by reason (authentication, permission, CSR, rate limit...).',
      labelNames: ['reason'],
      registers,
    }),
    caLatency: new Histogram({
      name: 'meridian_ca_issue_seconds',
      help: 'Time to authenticate, check and sign a certificate request.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    caExpiry: new Gauge({
      name: 'meridian_ca_signing_cert_expiry_seconds',
      help: 'Seconds until the CA signing certificate expires (like citadel_server_root_cert_expiry_timestamp, relative).',
      registers,
      collect() {
        const notAfter = sources.caNotAfter?.();
        if (notAfter !== undefined) this.set((notAfter - Date.now()) / 1000);
      },
    }),
    conflicts: new Gauge({
      name: 'meridian_service_conflicts',
      help: 'Service ports on which clusters disagree (name, protocol, targetPort); see /debug/registryz.',
      registers,
      collect() {
        this.set(conflictCount());
      },
    }),
    manifestErrors: new Gauge({
      name: 'meridian_manifest_errors',
      help: 'Manifest files currently failing to parse, per cluster (their last good state is served).',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of clusterFigures()) if (c.source.type === 'manifests') this.set({ cluster: c.id }, c.source.files?.filter((f) => f.error).length ?? 0);
      },
    }),
    manifestWatchProblems: new Gauge({
      name: 'meridian_manifest_watch_problems',
      help: 'Manifest directories that cannot be watched or read, per cluster: changes there are seen by the periodic rescan only; see /debug/clusterz.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of clusterFigures()) if (c.source.type === 'manifests') this.set({ cluster: c.id }, c.source.watch?.problems.length ?? 0);
      },
    }),
    rejectedEndpoints: new Gauge({
      name: 'meridian_rejected_endpoints',
      help: 'Endpoints left out because their address is not a valid IP of their slice type, per cluster; see /debug/clusterz.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const c of clusterFigures()) this.set({ cluster: c.id }, c.rejectedEndpoints.count);
      },
    }),
  };
}
