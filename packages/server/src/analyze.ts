/**
 * `meridian analyze`: what is wrong with a mesh's configuration, found offline, without a
 * running Meridian: every cluster of a config file is read as `serve` reads it (manifest
 * directories and Kubernetes APIs alike), then services and policies are checked together.
 * Each finding has a stable code that `docs/analyze.md` explains.
 */
import path from 'node:path';
import { AggregateRegistry, ClusterManager, type ServiceConflict } from '@meridian/discovery';
import { errorMessage, Health, type ConfigDocument, type ConfigUpdater, type Logger, type EntryService, type Service } from '@meridian/model';
import { compileMeshPolicies, PolicyStore, PolicyState, ProblemSeverity, resolveHost, type PolicyObject } from '@meridian/policy';
import { subsetEndpoints } from '@meridian/xds';
import { clusterSpecFor } from './clusters.ts';
import type { MeridianConfig } from './config.ts';
import { meshPolicyOptions, policySourceFilter, rootNamespace } from './mesh-settings.ts';

export const Severity = { Error: 'error', Warning: 'warning', Info: 'info' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

export interface Finding {
  readonly code: string;
  readonly severity: Severity;
  /** The cluster(s) the finding is about; empty for the mesh as a whole. */
  readonly clusters: readonly string[];
  /** `Kind namespace/name`, or the service's hostname. */
  readonly object: string;
  /** `file.yaml:12` or the API object, when known. */
  readonly origin?: string;
  readonly message: string;
}

/** Codes, with what each means (docs/analyze.md has cause and fix). */
export const CODES = {
  MA0001: 'a cluster could not be read',
  MA0002: 'a policy object is invalid',
  MA0003: 'copies of a policy object differ across clusters',
  MA0004: 'a policy object is not applied, or only in part',
  MA0005: 'clusters disagree about a service port',
  MA0006: 'a route or DestinationRule names a host no service has',
  MA0007: 'a DestinationRule subset selects no endpoint',
  MA0008: 'a workload selector matches no workload',
  MA0009: 'a service has no ready endpoint in a cluster',
  MA0010: 'a security policy is read from fewer clusters than its workloads run in',
  MA0011: "a ServiceEntry names a host a cluster's Service has",
} as const;
export type Code = keyof typeof CODES;

const finding = (code: Code, severity: Severity, f: Omit<Finding, 'code' | 'severity'>): Finding => ({ code, severity, ...f });

/** A cluster that could not be read (or not completely). */
export interface ReadFailure {
  readonly cluster: string;
  readonly origin?: string;
  readonly message: string;
}

/** Every cluster of a config, read as `serve` reads them: the merged registry and every policy object. */
export interface MeshRead {
  readonly registry: AggregateRegistry;
  readonly store: PolicyStore;
  readonly failures: readonly ReadFailure[];
}

/**
 * Reads every cluster of `config` (waiting at most `timeoutMs` for each to sync), hands the
 * result to `use`, and stops watching once it returns.
 */
export async function withMeshRead<T>(config: MeridianConfig, logger: Logger, timeoutMs: number, use: (mesh: MeshRead) => T): Promise<T> {
  const registry = new AggregateRegistry({ logger });
  const primary = (config.clusters.find((c) => c.primary) ?? config.clusters[0])?.id;
  const store = new PolicyStore(primary === undefined ? {} : { primary });
  const documents: ConfigUpdater = {
    replaceConfig: (cluster: string, docs: readonly ConfigDocument[]) => void store.replace(cluster, docs),
    removeConfig: (cluster: string) => void store.removeCluster(cluster),
  };
  const clusters = new ClusterManager({
    aggregate: registry,
    config: documents,
    domainSuffix: config.domainSuffix,
    systemNamespace: config.namespace ?? 'meridian-system',
    staleAfterMs: config.discovery.staleAfterMs,
    backoff: config.discovery.backoff,
    policyFrom: policySourceFilter(config),
    logger,
  });
  const failures: ReadFailure[] = [];
  try {
    for (const c of config.clusters) {
      try {
        await clusters.add(await clusterSpecFor(c));
      } catch (err) {
        failures.push({ cluster: c.id, message: errorMessage(err) });
      }
    }
    const missing = await clusters.waitForSync(clusters.ids(), timeoutMs);
    for (const id of missing) {
      const status = clusters.statuses().find((s) => s.id === id);
      failures.push({ cluster: id, message: `not read within ${timeoutMs} ms${status?.lastError ? `: ${status.lastError.message}` : ''}` });
    }
    for (const s of clusters.statuses()) {
      if (s.source.type !== 'manifests') continue;
      for (const f of s.source.files) {
        if (f.error) failures.push({ cluster: s.id, origin: path.relative(s.source.directory, f.file) || f.file, message: f.error.reason });
      }
    }
    return use({ registry, store, failures });
  } finally {
    await clusters.stop();
  }
}

/** Reads every cluster of `config` (waiting at most `timeoutMs` for each to sync) and analyzes them. */
export async function analyzeConfig(config: MeridianConfig, logger: Logger, timeoutMs: number): Promise<Finding[]> {
  const { telemetryProviders = [], tracingProviders = [] } = meshPolicyOptions(config);
  const options: MeshAnalysisOptions = { domainSuffix: config.domainSuffix, rootNamespace: rootNamespace(config), policySource: policySourceFilter(config), telemetryProviders, tracingProviders };
  return withMeshRead(config, logger, timeoutMs, ({ registry, store, failures }) => [
    ...failures.map((f) => finding('MA0001', Severity.Error, { clusters: [f.cluster], object: `cluster ${f.cluster}`, ...(f.origin ? { origin: f.origin } : {}), message: f.message })),
    ...analyzeMesh(registry, store, options),
  ]);
}

/** Services and policies checked together: what `analyzeConfig` reports once everything is read. */
export interface MeshAnalysisOptions {
  readonly domainSuffix: string;
  /** Meridian's namespace: policies there apply mesh-wide. */
  readonly rootNamespace: string;
  /** Whether a cluster's policy objects are read (config `policy.sources`). */
  readonly policySource: (cluster: string) => boolean;
  /** Access-log and tracing providers the config defines, which Telemetry resources may name. */
  readonly telemetryProviders?: readonly string[];
  readonly tracingProviders?: readonly string[];
}

export function analyzeMesh(registry: AggregateRegistry, store: PolicyStore, options: MeshAnalysisOptions): Finding[] {
  const { domainSuffix, rootNamespace } = options;
  const out: Finding[] = [];
  const statuses = store.statuses();
  const copies = new Map<string, Set<string>>();
  for (const s of statuses) {
    if (!s.ref) continue;
    const key = refText(s.ref);
    copies.set(key, (copies.get(key) ?? new Set()).add(s.cluster));
  }
  const clustersOf: ClustersOf = (ref) => [...(copies.get(refText(ref)) ?? [])];
  for (const s of statuses) {
    if (s.state === PolicyState.Rejected) {
      for (const e of s.errors) out.push(finding('MA0002', Severity.Error, { clusters: [s.cluster], object: refText(s.ref), origin: s.origin, message: e }));
    }
  }
  for (const c of store.conflicts()) {
    out.push(
      finding('MA0003', Severity.Warning, {
        clusters: [c.winner, ...c.losers],
        object: refText(c.ref),
        message: `the copies in ${[c.winner, ...c.losers].join(', ')} differ; ${c.winner}'s applies (primary first, then cluster ID order)`,
      }),
    );
  }
  const objects = store.objects();
  const compiled = compileMeshPolicies(objects, { domainSuffix, rootNamespace, defaultMtlsMode: 'DISABLE', telemetryProviders: options.telemetryProviders ?? [], tracingProviders: options.tracingProviders ?? [] });
  for (const p of compiled.problems) {
    const severity = p.severity === ProblemSeverity.Error ? Severity.Error : Severity.Warning;
    out.push(finding('MA0004', severity, { clusters: clustersOf(p.ref), object: refText(p.ref), message: `${p.path}: ${p.message}` }));
  }
  for (const l of compiled.limits) {
    for (const o of l.omit) out.push(finding('MA0004', Severity.Info, { clusters: clustersOf(l.ref), object: refText(l.ref), message: `${l.client} clients do not get the rule at ${o}` }));
  }
  out.push(...serviceConflicts(registry.conflicts()));
  const services = registry.services();
  const byHost = new Map(services.map((s) => [s.hostname, s]));
  out.push(...shadowedEntries(compiled.policies.serviceEntries, byHost, clustersOf));
  for (const e of compiled.policies.serviceEntries) if (!byHost.has(e.service.hostname)) byHost.set(e.service.hostname, e.service);
  for (const o of objects) out.push(...danglingHosts(o, byHost, domainSuffix, clustersOf));
  out.push(...emptySubsets(compiled.policies.traffic, objects, registry, clustersOf, domainSuffix));
  out.push(...unmatchedSelectors(objects, registry, clustersOf));
  out.push(...noReadyEndpoints(services, registry));
  out.push(...securityPolicyInFewerClusters(objects, registry, clustersOf, options));
  return out.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
}

function refText(ref: Ref | undefined): string {
  return ref ? `${ref.kind} ${ref.namespace}/${ref.name}` : '(unreadable object)';
}

type Ref = { readonly kind: string; readonly namespace: string; readonly name: string };
/** Every cluster that holds a copy of an object. */
type ClustersOf = (ref: Ref) => string[];

function serviceConflicts(conflicts: readonly ServiceConflict[]): Finding[] {
  return conflicts.map((c) =>
    finding('MA0005', Severity.Warning, {
      clusters: Object.keys(c.values),
      object: `${c.hostname}:${c.port}`,
      message: `port ${c.port} ${c.field} differs: ${Object.entries(c.values).map(([k, v]) => `${k}=${v || '(none)'}`).join(', ')}; ${c.winner}'s is served`,
    }),
  );
}

function danglingHosts(o: PolicyObject, services: ReadonlyMap<string, Service>, domainSuffix: string, clustersOf: ClustersOf): Finding[] {
  const hosts = new Set<string>();
  const spec = o.spec as Record<string, unknown>;
  if (o.kind === 'DestinationRule') hosts.add(String(spec['host'] ?? ''));
  if (o.kind === 'VirtualService') {
    for (const section of ['http', 'tcp', 'tls'] as const) {
      for (const rule of (spec[section] as Array<{ route?: Array<{ destination?: { host?: string } }> }> | undefined) ?? []) {
        for (const r of rule.route ?? []) if (r.destination?.host) hosts.add(r.destination.host);
      }
    }
  }
  if (o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute') {
    for (const rule of (spec['rules'] as Array<{ backendRefs?: Array<{ name?: string; namespace?: string; kind?: string }> }> | undefined) ?? []) {
      for (const b of rule.backendRefs ?? []) if (b.name && (b.kind ?? 'Service') === 'Service') hosts.add(`${b.name}.${b.namespace ?? o.namespace}.svc.${domainSuffix}`);
    }
  }
  const out: Finding[] = [];
  for (const host of hosts) {
    const name = resolveHost(host, o.namespace, domainSuffix);
    if (name.includes('*') || name === '' || services.has(name)) continue;
    out.push(finding('MA0006', Severity.Warning, { clusters: clustersOf(o), object: refText(o), message: `${host} (${name}) is no service in any cluster nor a ServiceEntry's host: requests routed there fail` }));
  }
  return out;
}

/** A ServiceEntry naming a host a cluster's Service already has: the Service is what clients get. */
function shadowedEntries(entries: readonly EntryService[], services: ReadonlyMap<string, Service>, clustersOf: ClustersOf): Finding[] {
  return entries.flatMap((e) => {
    const service = services.get(e.service.hostname);
    if (!service) return [];
    const [namespace = '', name = ''] = (e.service.entry?.source ?? '').split('/');
    const ref = { kind: 'ServiceEntry', namespace, name };
    return [finding('MA0011', Severity.Warning, { clusters: clustersOf(ref), object: refText(ref), message: `host ${e.service.hostname} is a Service in ${service.clusters.join(', ')}: the Service is served, the entry's definition of it is not` })];
  });
}

function emptySubsets(
  traffic: ReturnType<typeof compileMeshPolicies>['policies']['traffic'],
  objects: readonly PolicyObject[],
  registry: AggregateRegistry,
  clustersOf: ClustersOf,
  domainSuffix: string,
): Finding[] {
  const out: Finding[] = [];
  for (const o of objects) {
    if (o.kind !== 'DestinationRule') continue;
    const host = resolveHost(String((o.spec as { host?: string }).host ?? ''), o.namespace, domainSuffix);
    const dr = traffic.destinationFor(host, { namespace: o.namespace });
    if (!dr || !registry.service(host)) continue;
    const endpoints = registry.endpoints(host);
    for (const subset of dr.subsets.values()) {
      const wanted = Object.entries(subset.labels);
      if (subsetEndpoints(endpoints, subset.labels).length === 0) {
        out.push(finding('MA0007', Severity.Warning, { clusters: clustersOf(o), object: refText(o), message: `subset ${subset.name} (${wanted.map(([k, v]) => `${k}=${v}`).join(', ')}) selects none of ${host}'s endpoints in any cluster` }));
      }
    }
  }
  return out;
}

function unmatchedSelectors(objects: readonly PolicyObject[], registry: AggregateRegistry, clustersOf: ClustersOf): Finding[] {
  const workloads = registry.services().flatMap((s) => registry.endpoints(s.hostname).map((e) => ({ namespace: s.namespace, labels: e.labels ?? {} })));
  const out: Finding[] = [];
  for (const o of objects) {
    const spec = o.spec as { selector?: { matchLabels?: Record<string, string> }; workloadSelector?: { labels?: Record<string, string> } };
    const labels = spec.selector?.matchLabels ?? spec.workloadSelector?.labels;
    if (!labels || Object.keys(labels).length === 0) continue;
    const match = workloads.some((w) => w.namespace === o.namespace && Object.entries(labels).every(([k, v]) => w.labels[k] === v));
    if (!match) {
      out.push(finding('MA0008', Severity.Warning, { clusters: clustersOf(o), object: refText(o), message: `selects ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ')} in ${o.namespace}: no workload in any cluster has those labels` }));
    }
  }
  return out;
}

function noReadyEndpoints(services: readonly Service[], registry: AggregateRegistry): Finding[] {
  const out: Finding[] = [];
  for (const s of services) {
    const endpoints = registry.endpoints(s.hostname);
    for (const cluster of s.clusters) {
      const own = endpoints.filter((e) => e.cluster === cluster);
      if (own.length > 0 && own.every((e) => e.health !== Health.Healthy)) {
        out.push(finding('MA0009', Severity.Info, { clusters: [cluster], object: s.hostname, message: `all ${own.length} endpoints in ${cluster} are not ready: callers there fail over to other clusters` }));
      }
    }
  }
  return out;
}

/**
 * A security policy read from one cluster protects its workloads in every cluster, but only
 * while that cluster is read: if it is removed, or stays unreachable past staleness, the
 * workloads elsewhere lose the policy with it. Copies in every source cluster that runs the
 * workloads (identical copies are one) keep the protection where the workloads are.
 */
function securityPolicyInFewerClusters(objects: readonly PolicyObject[], registry: AggregateRegistry, clustersOf: ClustersOf, options: MeshAnalysisOptions): Finding[] {
  const out: Finding[] = [];
  const workloads = registry.services().flatMap((s) => registry.endpoints(s.hostname).map((e) => ({ namespace: s.namespace, cluster: e.cluster, labels: e.labels ?? {} })));
  for (const o of objects) {
    if (o.kind !== 'AuthorizationPolicy' && o.kind !== 'PeerAuthentication') continue;
    const labels = (o.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {};
    const meshWide = o.namespace === options.rootNamespace;
    const running = new Set(workloads.filter((w) => (meshWide || w.namespace === o.namespace) && Object.entries(labels).every(([k, v]) => w.labels[k] === v)).map((w) => w.cluster));
    const held = new Set(clustersOf(o));
    const without = [...running].filter((c) => !held.has(c) && options.policySource(c)).sort();
    if (without.length === 0) continue;
    const scope = meshWide ? 'the mesh' : o.namespace;
    out.push(
      finding('MA0010', Severity.Warning, {
        clusters: [...held].sort(),
        object: refText(o),
        message: `read only from ${[...held].sort().join(', ')}, while ${scope} has workloads it selects in ${without.join(', ')} too: they lose it if ${[...held].sort().join(', ')} is removed or goes stale; apply the same copy there`,
      }),
    );
  }
  return out;
}
