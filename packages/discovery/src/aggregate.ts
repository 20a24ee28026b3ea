import {
  ConfigKind,
  hostnameKeys,
  PushReason,
  pushReason,
  type ClusterId,
  type ClusterService,
  type Endpoint,
  type Logger,
  type NetworkGateway,
  type NetworkId,
  type Service,
  type ServiceDiscovery,
  type ServicePort,
  type XdsUpdater,
} from '@meridian/model';
import { ClusterState, type ClusterChange, type ClusterRegistry, type ClusterStatus } from './cluster-registry.ts';

export interface AggregateRegistryOptions {
  readonly logger: Logger;
  readonly updater?: XdsUpdater;
}

interface Merged {
  readonly service: Service | undefined;
  readonly endpoints: readonly Endpoint[];
  readonly conflicts: readonly ServiceConflict[];
}

/**
 * Clusters disagree about one port of a service. The merged service keeps the value of the
 * first cluster in ID order; the conflict is reported so an operator can fix the outlier.
 */
export interface ServiceConflict {
  readonly hostname: string;
  readonly port: number;
  readonly field: 'name' | 'protocol' | 'targetPort' | 'appProtocol';
  /** Cluster ID → the value it has. */
  readonly values: Readonly<Record<ClusterId, string>>;
  /** The cluster whose value is served. */
  readonly winner: ClusterId;
}

/**
 * Merges every cluster's registry into one mesh: the same `name.namespace` in several
 * clusters is one service, and its endpoints keep the cluster they came from.
 *
 * Merge rule: ports are the union by port number; where clusters disagree on a port, the
 * first cluster in ID order wins. Merged views are computed lazily and cached per hostname
 * some cluster has, until a cluster reports a change to it.
 */
export class AggregateRegistry implements ServiceDiscovery {
  private readonly clusters = new Map<ClusterId, { registry: ClusterRegistry; unsubscribe: () => void }>();
  private readonly merged = new Map<string, Merged>();
  private sortedServices: readonly Service[] | undefined;
  private updater: XdsUpdater | undefined;
  private configuredGateways: readonly NetworkGateway[] = [];
  /** Per hostname, the disagreements already logged that still hold. */
  private readonly reportedConflicts = new Map<string, ReadonlySet<string>>();
  private readonly logger: Logger;

  constructor(options: AggregateRegistryOptions) {
    this.logger = options.logger.child({ component: 'aggregate-registry' });
    this.updater = options.updater;
  }

  setUpdater(updater: XdsUpdater): void {
    this.updater = updater;
  }

  addCluster(registry: ClusterRegistry): void {
    if (this.clusters.has(registry.id)) throw new Error(`cluster ${registry.id} is already registered`);
    const unsubscribe = registry.onChange((change) => this.onClusterChange(change));
    this.clusters.set(registry.id, { registry, unsubscribe });
    const hostnames = registry.hostnames();
    this.logger.info({ cluster: registry.id, services: hostnames.size }, 'cluster added');
    if (hostnames.size > 0) this.onClusterChange({ cluster: registry.id, kind: 'full', hostnames });
  }

  removeCluster(id: ClusterId): void {
    const entry = this.clusters.get(id);
    if (!entry) return;
    entry.unsubscribe();
    this.clusters.delete(id);
    const hostnames = entry.registry.hostnames();
    this.logger.info({ cluster: id, services: hostnames.size }, 'cluster removed');
    this.onClusterChange({ cluster: id, kind: 'full', hostnames });
  }

  /**
   * Swaps a cluster's registry for a new one (rotated credentials) in one step: clients see
   * a single change from the old state to the new, never a gap.
   */
  replaceCluster(registry: ClusterRegistry): void {
    const old = this.clusters.get(registry.id);
    if (!old) {
      this.addCluster(registry);
      return;
    }
    old.unsubscribe();
    const unsubscribe = registry.onChange((change) => this.onClusterChange(change));
    this.clusters.set(registry.id, { registry, unsubscribe });
    const hostnames = new Set([...old.registry.hostnames(), ...registry.hostnames()]);
    this.logger.info({ cluster: registry.id, services: hostnames.size }, 'cluster replaced');
    this.onClusterChange({ cluster: registry.id, kind: 'full', hostnames });
  }

  cluster(id: ClusterId): ClusterRegistry | undefined {
    return this.clusters.get(id)?.registry;
  }

  /** Gateways from config, by network; Services labelled with a network add to them. */
  setConfiguredGateways(gateways: readonly NetworkGateway[]): void {
    this.configuredGateways = gateways;
  }

  networkGateways(network: NetworkId): readonly NetworkGateway[] {
    return this.allNetworkGateways().filter((g) => g.network === network);
  }

  allNetworkGateways(): readonly NetworkGateway[] {
    const fromServices = this.clusterIds().flatMap((id) => this.clusters.get(id)?.registry.gateways() ?? []);
    return [...this.configuredGateways, ...fromServices];
  }

  clusterIds(): readonly ClusterId[] {
    return [...this.clusters.keys()].sort();
  }

  clusterStatuses(): ClusterStatus[] {
    return this.clusterIds().flatMap((id) => {
      const registry = this.clusters.get(id)?.registry;
      return registry ? [registry.status()] : [];
    });
  }

  services(): readonly Service[] {
    if (!this.sortedServices) {
      const hostnames = new Set<string>();
      for (const { registry } of this.clusters.values()) {
        for (const s of registry.clusterServices()) hostnames.add(s.hostname);
      }
      this.sortedServices = [...hostnames]
        .sort()
        .flatMap((h) => {
          const s = this.mergedFor(h).service;
          return s ? [s] : [];
        });
    }
    return this.sortedServices;
  }

  service(hostname: string): Service | undefined {
    return this.mergedFor(hostname).service;
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.mergedFor(hostname).endpoints;
  }

  /** Every cross-cluster disagreement on service ports, by hostname then port. */
  conflicts(): ServiceConflict[] {
    return this.services().flatMap((s) => this.mergedFor(s.hostname).conflicts);
  }

  /** How many hostnames' merged views are cached (`/debug/cachez`). */
  mergedViews(): number {
    return this.merged.size;
  }

  private mergedFor(hostname: string): Merged {
    let merged = this.merged.get(hostname);
    if (!merged) {
      merged = this.merge(hostname);
      // Only what some cluster has is kept, so the cache is bounded by the mesh: anyone may
      // ask for any name (an unknown EDS or LDS name), and a miss costs one pass over the
      // clusters each time rather than memory for good.
      if (merged.service || merged.endpoints.length > 0) this.merged.set(hostname, merged);
    }
    return merged;
  }

  private merge(hostname: string): Merged {
    const perCluster: ClusterService[] = [];
    const endpoints: Endpoint[] = [];
    for (const id of this.clusterIds()) {
      const registry = this.clusters.get(id)?.registry;
      if (!registry) continue;
      const svc = registry.service(hostname);
      if (svc) perCluster.push(svc);
      const own = registry.endpoints(hostname);
      // A stale cluster's endpoints stay, marked so xDS ranks them below fresh ones.
      endpoints.push(...(registry.state === ClusterState.Stale ? own.map((e) => ({ ...e, stale: true })) : own));
    }
    const conflicts = findConflicts(perCluster);
    // Each disagreement is logged once while it lasts; only the live ones are remembered.
    const live = new Set(conflicts.map((c) => `${c.port}|${c.field}|${JSON.stringify(c.values)}`));
    const logged = this.reportedConflicts.get(hostname);
    for (const c of conflicts) {
      if (logged?.has(`${c.port}|${c.field}|${JSON.stringify(c.values)}`)) continue;
      this.logger.warn(c, 'clusters disagree on a service port; serving the first cluster\'s value');
    }
    if (live.size > 0) this.reportedConflicts.set(hostname, live);
    else this.reportedConflicts.delete(hostname);
    return { service: mergeServices(perCluster, endpoints), endpoints, conflicts };
  }

  private onClusterChange(change: ClusterChange): void {
    if (change.gateways) {
      // How every remote endpoint is reached may change; the xDS side knows which assignments.
      this.updater?.configUpdate({
        kind: 'endpoints',
        configs: [{ kind: ConfigKind.Gateway, namespace: '', name: change.cluster }],
        reasons: [pushReason(PushReason.Gateways, change.cluster)],
      });
      return;
    }
    for (const h of change.hostnames) this.merged.delete(h);
    // Also on endpoints-only changes: a merged Service's serviceAccounts come from its endpoints.
    this.sortedServices = undefined;
    const full = change.kind === 'full';
    this.updater?.configUpdate({
      kind: change.kind,
      configs: hostnameKeys(full ? ConfigKind.Service : ConfigKind.Endpoints, change.hostnames),
      reasons: [pushReason(full ? PushReason.Services : PushReason.Endpoints, change.cluster)],
    });
  }
}

/** Merges one hostname's per-cluster services (already in cluster ID order) and their endpoints. */
export function mergeServices(
  perCluster: readonly ClusterService[],
  endpoints: readonly Endpoint[],
): Service | undefined {
  const first = perCluster[0];
  if (!first) return undefined;
  const ports = new Map<number, ServicePort>();
  const addresses: Record<ClusterId, readonly string[]> = {};
  for (const svc of perCluster) {
    for (const p of svc.ports) if (!ports.has(p.port)) ports.set(p.port, p);
    addresses[svc.cluster] = svc.addresses;
  }
  return {
    hostname: first.hostname,
    name: first.name,
    namespace: first.namespace,
    ports: [...ports.values()].sort((a, b) => a.port - b.port),
    clusters: perCluster.map((s) => s.cluster),
    addresses,
    serviceAccounts: [...new Set(endpoints.flatMap((e) => (e.serviceAccount ? [e.serviceAccount] : [])))].sort(),
  };
}

const CONFLICT_FIELDS = ['name', 'protocol', 'targetPort', 'appProtocol'] as const;

/** Per port number, the fields on which clusters (in ID order) disagree. */
export function findConflicts(perCluster: readonly ClusterService[]): ServiceConflict[] {
  const first = perCluster[0];
  if (!first || perCluster.length < 2) return [];
  const byPort = new Map<number, Array<{ cluster: ClusterId; port: ServicePort }>>();
  for (const svc of perCluster) {
    for (const port of svc.ports) {
      let list = byPort.get(port.port);
      if (!list) byPort.set(port.port, (list = []));
      list.push({ cluster: svc.cluster, port });
    }
  }
  const out: ServiceConflict[] = [];
  for (const [port, entries] of [...byPort.entries()].sort(([a], [b]) => a - b)) {
    for (const field of CONFLICT_FIELDS) {
      const values = Object.fromEntries(entries.map((e) => [e.cluster, String(e.port[field] ?? '')]));
      if (new Set(Object.values(values)).size > 1) {
        out.push({ hostname: first.hostname, port, field, values, winner: entries[0]?.cluster ?? first.cluster });
      }
    }
  }
  return out;
}
