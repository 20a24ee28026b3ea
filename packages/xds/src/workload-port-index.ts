import type { Endpoint, PushRequest, Service, ServiceDiscovery, ServicePort } from '@meridian/model';
import { changedHostnames, changeSetOf } from './change-set.ts';

/** A service port that an endpoint at some address serves. */
export interface WorkloadPort {
  readonly service: Service;
  readonly port: ServicePort;
  readonly endpoint: Endpoint;
}

/**
 * Which service ports have endpoints at an address of a cluster: how a sidecar finds its own
 * ports (its inbound listener and clusters). Every push asks it for every sidecar, so it is
 * brought up to date per hostname the push names instead of being rebuilt from the whole
 * registry: an endpoint change then costs its service's endpoints, not the mesh's.
 */
export class WorkloadPortIndex {
  private readonly discovery: ServiceDiscovery;
  /** `cluster|address` → the ports endpoints there serve. */
  private readonly byAddress = new Map<string, WorkloadPort[]>();
  /** hostname → the `cluster|address` keys its endpoints are under. */
  private readonly keysByHostname = new Map<string, Set<string>>();
  /** Hostnames to re-read before the next lookup; `all` before the first one. */
  private stale: Set<string> | 'all' = 'all';

  constructor(discovery: ServiceDiscovery) {
    this.discovery = discovery;
  }

  /** A push happened: what it names is re-read on the next lookup (everything when it names nothing). */
  invalidate(request: PushRequest): void {
    if (this.stale === 'all') return;
    const changes = changeSetOf(request);
    if (changes.everything) this.stale = 'all';
    else for (const hostname of changedHostnames(changes)) this.stale.add(hostname);
  }

  at(cluster: string, address: string): readonly WorkloadPort[] {
    this.refresh();
    return this.byAddress.get(`${cluster}|${address}`) ?? [];
  }

  private refresh(): void {
    if (this.stale === 'all') {
      this.byAddress.clear();
      this.keysByHostname.clear();
      for (const service of this.discovery.services()) this.add(service);
    } else {
      for (const hostname of this.stale) {
        this.remove(hostname);
        const service = this.discovery.service(hostname);
        if (service) this.add(service);
      }
    }
    this.stale = new Set();
  }

  private add(service: Service): void {
    const keys = new Set<string>();
    for (const endpoint of this.discovery.endpoints(service.hostname)) {
      const port = service.ports.find((p) => p.name === endpoint.portName);
      if (!port) continue;
      const key = `${endpoint.cluster}|${endpoint.address}`;
      keys.add(key);
      const list = this.byAddress.get(key);
      if (list) list.push({ service, port, endpoint });
      else this.byAddress.set(key, [{ service, port, endpoint }]);
    }
    if (keys.size > 0) this.keysByHostname.set(service.hostname, keys);
  }

  private remove(hostname: string): void {
    for (const key of this.keysByHostname.get(hostname) ?? []) {
      const kept = (this.byAddress.get(key) ?? []).filter((w) => w.service.hostname !== hostname);
      if (kept.length > 0) this.byAddress.set(key, kept);
      else this.byAddress.delete(key);
    }
    this.keysByHostname.delete(hostname);
  }
}
