import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import {
  serviceHostname,
  type ClusterId,
  type ClusterService,
  type Endpoint,
  type Logger,
  type NetworkGateway,
  type NetworkId,
} from '@meridian/model';
import {
  Label,
  compareEndpoints,
  convertEndpointSlice,
  convertService,
  convertWorkloadEntry,
  workloadEntryLabels,
  type ConvertContext,
} from './convert.ts';
import { objectKey, type KubeEvent, type WorkloadEntry } from './kube-objects.ts';

export interface ClusterChange {
  readonly cluster: ClusterId;
  readonly kind: 'full' | 'endpoints';
  readonly hostnames: ReadonlySet<string>;
  /** The cluster's east-west gateways changed: every service's endpoints may be reached differently. */
  readonly gateways?: boolean;
}

export type ClusterChangeListener = (change: ClusterChange) => void;

export const ClusterState = {
  Syncing: 'Syncing',
  Synced: 'Synced',
  Degraded: 'Degraded',
  Stale: 'Stale',
} as const;
export type ClusterState = (typeof ClusterState)[keyof typeof ClusterState];

export interface ClusterRegistryOptions {
  readonly cluster: ClusterId;
  /** The network, or the fallback when `networkFromNamespace` names none. */
  readonly network: NetworkId;
  /** A namespace whose `topology.istio.io/network` label, when set, names the network. */
  readonly networkFromNamespace?: string | undefined;
  readonly domainSuffix: string;
  readonly logger: Logger;
}

/**
 * One cluster's objects and the mesh model derived from them. Sources apply batches of
 * events; the registry works out which services they affect, recomputes only those, and
 * reports a change only when the derived model really differs.
 */
export class ClusterRegistry {
  readonly id: ClusterId;
  private readonly defaultNetwork: NetworkId;
  private readonly networkNamespace: string | undefined;
  private ctx: ConvertContext;
  private readonly logger: Logger;
  private readonly listeners = new Set<ClusterChangeListener>();

  private readonly k8sServices = new Map<string, V1Service>();
  private readonly slices = new Map<string, V1EndpointSlice>();
  private readonly pods = new Map<string, V1Pod>();
  private readonly nodes = new Map<string, V1Node>();
  private readonly namespaces = new Map<string, V1Namespace>();
  private readonly workloads = new Map<string, WorkloadEntry>();

  /** Derived model, keyed by `namespace/name` of the Service. */
  private readonly services = new Map<string, { service: ClusterService; fingerprint: string }>();
  private readonly endpointsByService = new Map<string, { endpoints: readonly Endpoint[]; fingerprint: string }>();
  /** Endpoints left out of a service because their address cannot be served, by service key. */
  private readonly rejectedByService = new Map<string, readonly RejectedEndpoint[]>();

  /** Reverse indexes so a Pod or Node event recomputes only the services it touches. */
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly servicesByNode = new Map<string, Set<string>>();
  private readonly servicesByPod = new Map<string, Set<string>>();
  private readonly serviceOfSlice = new Map<string, string>();
  private readonly refsOfService = new Map<string, { nodes: Set<string>; pods: Set<string> }>();

  private stateValue: ClusterState = ClusterState.Syncing;
  private stateSince = Date.now();
  private lastEventAt: number | undefined;
  private lastError: { message: string; at: number } | undefined;
  private gatewaysFingerprint = '[]';
  private eventCount = 0;

  constructor(options: ClusterRegistryOptions) {
    this.id = options.cluster;
    this.defaultNetwork = options.network;
    this.networkNamespace = options.networkFromNamespace;
    this.ctx = { cluster: options.cluster, network: options.network, domainSuffix: options.domainSuffix };
    this.logger = options.logger.child({ component: 'cluster-registry', cluster: options.cluster });
  }

  onChange(listener: ClusterChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies a batch of events and reports one change for all of them. */
  apply(events: readonly KubeEvent[]): void {
    if (events.length === 0) return;
    const touchedServices = new Set<string>();
    const touchedEndpoints = new Set<string>();
    for (const event of events) this.store(event, touchedServices, touchedEndpoints);
    this.eventCount += events.length;
    this.lastEventAt = Date.now();

    const full = new Set<string>();
    const endpointsOnly = new Set<string>();
    for (const key of touchedServices) if (this.recomputeService(key)) full.add(key);
    for (const key of new Set([...touchedServices, ...touchedEndpoints])) {
      if (this.recomputeEndpoints(key) && !full.has(key)) endpointsOnly.add(key);
    }
    if (full.size > 0) this.emit('full', full);
    if (endpointsOnly.size > 0) this.emit('endpoints', endpointsOnly);
    const gateways = touchedServices.size > 0 ? JSON.stringify(this.gateways()) : this.gatewaysFingerprint;
    if (gateways !== this.gatewaysFingerprint) {
      this.gatewaysFingerprint = gateways;
      this.logger.info({ gateways: this.gateways() }, 'east-west gateways changed');
      for (const listener of this.listeners) listener({ cluster: this.id, kind: 'endpoints', hostnames: new Set(), gateways: true });
    }
  }

  /** The source has delivered its initial state (or a relist). */
  markSynced(): void {
    if (this.stateValue !== ClusterState.Synced) this.setState(ClusterState.Synced);
  }

  /**
   * Moves the cluster through Syncing → Synced ⇄ Degraded → Stale. Entering or leaving
   * Stale changes how every endpoint of the cluster ranks, so it is reported as an
   * endpoints change of all its hostnames.
   */
  setState(state: ClusterState, reason?: string): void {
    if (reason !== undefined) this.lastError = { message: reason, at: Date.now() };
    if (state === this.stateValue) return;
    const from = this.stateValue;
    const log = { from, to: state, ...(reason ? { reason } : {}) };
    if (state === ClusterState.Degraded || state === ClusterState.Stale) this.logger.warn(log, 'cluster state changed');
    else this.logger.info(log, 'cluster state changed');
    this.stateValue = state;
    this.stateSince = Date.now();
    if (from === ClusterState.Stale || state === ClusterState.Stale) {
      const keys = new Set(this.endpointsByService.keys());
      if (keys.size > 0) this.emit('endpoints', keys);
    }
  }

  get state(): ClusterState {
    return this.stateValue;
  }

  clusterServices(): IterableIterator<ClusterService> {
    return Array.from(this.services.values(), (s) => s.service)[Symbol.iterator]();
  }

  /** Hostnames this cluster has a Service or endpoints for (a slice may outlive its Service). */
  hostnames(): Set<string> {
    const keys = new Set([...this.services.keys(), ...this.endpointsByService.keys()]);
    return new Set([...keys].map((k) => this.hostnameOfKey(k)));
  }

  service(hostname: string): ClusterService | undefined {
    return this.services.get(this.keyOfHostname(hostname))?.service;
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.endpointsByService.get(this.keyOfHostname(hostname))?.endpoints ?? [];
  }

  /**
   * East-west gateways this cluster declares: Services labelled `topology.istio.io/network`,
   * reached at their load-balancer address (or external IP, else cluster IP) on the port
   * named `tls` (else 15443, Istio's east-west port).
   */
  gateways(): NetworkGateway[] {
    const out: NetworkGateway[] = [];
    for (const [key, svc] of this.gatewayServices()) {
      const network = svc.metadata?.labels?.[Label.Network];
      if (!network) continue;
      const ingress = svc.status?.loadBalancer?.ingress?.[0];
      const address = ingress?.ip ?? ingress?.hostname ?? svc.spec?.externalIPs?.[0] ?? svc.spec?.clusterIP;
      const ports = svc.spec?.ports ?? [];
      const port = ports.find((p) => p.name === 'tls') ?? ports.find((p) => p.port === 15443);
      if (!address || address === 'None' || !port) continue;
      out.push({ network, address, port: port.port, source: `service:${this.id}/${key}` });
    }
    return out.sort((a, b) => a.source.localeCompare(b.source));
  }

  private *gatewayServices(): Iterable<[string, V1Service]> {
    for (const entry of this.k8sServices) if (entry[1].metadata?.labels?.[Label.Network]) yield entry;
  }

  namespace(name: string): V1Namespace | undefined {
    return this.namespaces.get(name);
  }

  status(): ClusterStatus {
    return {
      id: this.id,
      network: this.network,
      state: this.stateValue,
      since: new Date(this.stateSince).toISOString(),
      lastEventAt: this.lastEventAt ? new Date(this.lastEventAt).toISOString() : null,
      lastError: this.lastError ? { message: this.lastError.message, at: new Date(this.lastError.at).toISOString() } : null,
      rejectedEndpoints: this.rejectedEndpoints(),
      events: this.eventCount,
      objects: {
        services: this.k8sServices.size,
        endpointSlices: this.slices.size,
        pods: this.pods.size,
        nodes: this.nodes.size,
        namespaces: this.namespaces.size,
        workloadEntries: this.workloads.size,
      },
    };
  }

  private rejectedEndpoints(): ClusterStatus['rejectedEndpoints'] {
    let count = 0;
    const items: RejectedEndpoint[] = [];
    for (const key of [...this.rejectedByService.keys()].sort()) {
      const rejected = this.rejectedByService.get(key) ?? [];
      count += rejected.length;
      for (const r of rejected) if (items.length < REJECTED_SHOWN) items.push(r);
    }
    return { count, items };
  }

  private keyOfHostname(hostname: string): string {
    // name.namespace.svc.<domain>: the first two labels are the key.
    const [name, namespace] = hostname.split('.', 2);
    return `${namespace}/${name}`;
  }

  private hostnameOfKey(key: string): string {
    const [namespace = '', name = ''] = key.split('/', 2);
    return serviceHostname(name, namespace, this.ctx.domainSuffix);
  }

  private store(event: KubeEvent, touchedServices: Set<string>, touchedEndpoints: Set<string>): void {
    const key = objectKey(event.object);
    const remove = event.type === 'delete';
    switch (event.kind) {
      case 'Service':
        if (remove) this.k8sServices.delete(key);
        else this.k8sServices.set(key, event.object);
        touchedServices.add(key);
        break;
      case 'EndpointSlice': {
        const previousService = this.serviceOfSlice.get(key);
        if (previousService) {
          this.slicesByService.get(previousService)?.delete(key);
          touchedEndpoints.add(previousService);
        }
        this.serviceOfSlice.delete(key);
        if (remove) {
          this.slices.delete(key);
          break;
        }
        this.slices.set(key, event.object);
        const serviceName = event.object.metadata?.labels?.['kubernetes.io/service-name'];
        if (serviceName) {
          const serviceKey = `${event.object.metadata?.namespace ?? 'default'}/${serviceName}`;
          this.serviceOfSlice.set(key, serviceKey);
          addTo(this.slicesByService, serviceKey, key);
          touchedEndpoints.add(serviceKey);
        }
        break;
      }
      case 'Pod':
        if (remove) this.pods.delete(key);
        else this.pods.set(key, event.object);
        for (const s of this.servicesByPod.get(key) ?? []) touchedEndpoints.add(s);
        break;
      case 'Node':
        if (remove) this.nodes.delete(key);
        else this.nodes.set(key, event.object);
        for (const s of this.servicesByNode.get(key) ?? []) touchedEndpoints.add(s);
        break;
      case 'WorkloadEntry': {
        // Its labels may match any Service of its namespace, before or after the change.
        if (remove) this.workloads.delete(key);
        else this.workloads.set(key, event.object);
        const namespace = event.object.metadata?.namespace ?? 'default';
        for (const serviceKey of this.k8sServices.keys()) if (serviceKey.startsWith(`${namespace}/`)) touchedEndpoints.add(serviceKey);
        break;
      }
      case 'Namespace':
        if (remove) this.namespaces.delete(key);
        else this.namespaces.set(key, event.object);
        if (key === this.networkNamespace) this.updateNetwork(touchedEndpoints);
        break;
    }
  }

  get network(): NetworkId {
    return this.ctx.network;
  }

  /** The system namespace's network label changed: every endpoint's network may change. */
  private updateNetwork(touchedEndpoints: Set<string>): void {
    const label = this.networkNamespace ? this.namespaces.get(this.networkNamespace)?.metadata?.labels?.[Label.Network] : undefined;
    const network = label ?? this.defaultNetwork;
    if (network === this.ctx.network) return;
    this.logger.info({ from: this.ctx.network, to: network }, 'cluster network changed (system namespace label)');
    this.ctx = { ...this.ctx, network };
    for (const key of this.slicesByService.keys()) touchedEndpoints.add(key);
  }

  /** Returns true when the derived service changed. */
  private recomputeService(key: string): boolean {
    const k8s = this.k8sServices.get(key);
    const converted = k8s ? convertService(k8s, this.ctx) : undefined;
    const previous = this.services.get(key);
    if (!converted) {
      this.services.delete(key);
      return previous !== undefined;
    }
    const fingerprint = JSON.stringify(converted);
    if (previous?.fingerprint === fingerprint) return false;
    this.services.set(key, { service: converted, fingerprint });
    return true;
  }

  /** Returns true when the service's endpoints changed. */
  private recomputeEndpoints(serviceKey: string): boolean {
    const lookup = {
      node: (name: string) => this.nodes.get(name),
      pod: (namespace: string, name: string) => this.pods.get(`${namespace}/${name}`),
    };
    const endpoints: Endpoint[] = [];
    const rejected: RejectedEndpoint[] = [];
    const service = this.hostnameOfKey(serviceKey);
    for (const sliceKey of [...(this.slicesByService.get(serviceKey) ?? [])].sort()) {
      const slice = this.slices.get(sliceKey);
      const converted = slice ? convertEndpointSlice(slice, this.ctx, lookup) : undefined;
      if (!converted) continue;
      endpoints.push(...converted.endpoints);
      for (const r of converted.rejected) rejected.push({ service, object: `EndpointSlice ${r.slice}`, address: r.address, reason: r.reason });
    }
    endpoints.push(...this.workloadEndpoints(serviceKey, rejected));
    endpoints.sort(compareEndpoints);
    this.recordRejected(serviceKey, rejected);
    this.reindex(serviceKey, endpoints);
    const previous = this.endpointsByService.get(serviceKey);
    if (endpoints.length === 0) {
      this.endpointsByService.delete(serviceKey);
      return previous !== undefined && previous.endpoints.length > 0;
    }
    const fingerprint = JSON.stringify(endpoints);
    if (previous?.fingerprint === fingerprint) return false;
    this.endpointsByService.set(serviceKey, { endpoints, fingerprint });
    return true;
  }

  private recordRejected(serviceKey: string, rejected: readonly RejectedEndpoint[]): void {
    const previous = this.rejectedByService.get(serviceKey) ?? [];
    if (rejected.length === 0) this.rejectedByService.delete(serviceKey);
    else this.rejectedByService.set(serviceKey, rejected);
    if (rejected.length > 0 && JSON.stringify(previous) !== JSON.stringify(rejected)) {
      this.logger.warn({ service: this.hostnameOfKey(serviceKey), rejected: rejected.slice(0, REJECTED_SHOWN) }, 'endpoints with invalid addresses left out');
    }
  }

  /** Endpoints of WorkloadEntries whose labels match the Service's selector; bad addresses go to `rejected`. */
  private workloadEndpoints(serviceKey: string, rejected: RejectedEndpoint[]): Endpoint[] {
    const service = this.k8sServices.get(serviceKey);
    const selector = service?.spec?.selector;
    if (!service || !selector || Object.keys(selector).length === 0 || this.workloads.size === 0) return [];
    const namespace = service.metadata?.namespace ?? 'default';
    const out: Endpoint[] = [];
    for (const entry of this.workloads.values()) {
      if ((entry.metadata?.namespace ?? 'default') !== namespace) continue;
      const labels = workloadEntryLabels(entry);
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
      const converted = convertWorkloadEntry(entry, service, this.ctx);
      if (converted && 'rejected' in converted) {
        const object = `WorkloadEntry ${namespace}/${entry.metadata?.name ?? ''}`;
        rejected.push({ service: this.hostnameOfKey(serviceKey), object, address: entry.spec?.address ?? '', reason: converted.rejected });
      } else if (converted) {
        out.push(...converted.endpoints);
      }
    }
    return out;
  }

  private reindex(serviceKey: string, endpoints: readonly Endpoint[]): void {
    const previous = this.refsOfService.get(serviceKey);
    for (const node of previous?.nodes ?? []) removeFrom(this.servicesByNode, node, serviceKey);
    for (const pod of previous?.pods ?? []) removeFrom(this.servicesByPod, pod, serviceKey);
    const refs = { nodes: new Set<string>(), pods: new Set<string>() };
    for (const ep of endpoints) {
      if (ep.nodeName) refs.nodes.add(ep.nodeName);
      if (ep.pod) refs.pods.add(ep.pod);
    }
    for (const node of refs.nodes) addTo(this.servicesByNode, node, serviceKey);
    for (const pod of refs.pods) addTo(this.servicesByPod, pod, serviceKey);
    if (refs.nodes.size + refs.pods.size > 0) this.refsOfService.set(serviceKey, refs);
    else this.refsOfService.delete(serviceKey);
  }

  private emit(kind: 'full' | 'endpoints', serviceKeys: ReadonlySet<string>): void {
    const hostnames = new Set([...serviceKeys].map((k) => this.hostnameOfKey(k)));
    this.logger.debug({ kind, hostnames: [...hostnames] }, 'cluster model changed');
    for (const listener of this.listeners) listener({ cluster: this.id, kind, hostnames });
  }
}

/** How many rejected endpoints status() lists; the count covers them all. */
const REJECTED_SHOWN = 20;

export interface RejectedEndpoint {
  readonly service: string;
  /** The object that declared it: `EndpointSlice ns/name` or `WorkloadEntry ns/name`. */
  readonly object: string;
  readonly address: string;
  readonly reason: string;
}

export interface ClusterStatus {
  readonly id: ClusterId;
  readonly network: NetworkId;
  readonly state: ClusterState;
  readonly since: string;
  readonly lastEventAt: string | null;
  readonly lastError: { readonly message: string; readonly at: string } | null;
  /** Endpoints left out because their address is invalid: all counted, the first few listed. */
  readonly rejectedEndpoints: { readonly count: number; readonly items: readonly RejectedEndpoint[] };
  readonly events: number;
  readonly objects: Readonly<Record<string, number>>;
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(value);
}
