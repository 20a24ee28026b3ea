import type { Endpoint, Service, ServicePort } from '@meridian/model';

/** A service port that an endpoint at some address serves. */
export interface WorkloadPort {
  readonly service: Service;
  readonly port: ServicePort;
  readonly endpoint: Endpoint;
}

/** What the index reads a service's endpoints from: a push snapshot. */
export interface WorkloadSource {
  readonly services: readonly Service[];
  service(hostname: string): Service | undefined;
  endpoints(hostname: string): readonly Endpoint[];
}

/**
 * Which service ports have endpoints at an address of a cluster: how a sidecar finds its own
 * ports (its inbound listener and clusters). Every push asks it for every sidecar, so a new
 * snapshot's index is the previous one with only the hostnames the push names re-read:
 * an endpoint change then costs its service's endpoints, not the mesh's. Never changed once
 * built; `next` copies.
 */
export class WorkloadPortIndex {
  /** `cluster|address` → the ports endpoints there serve. */
  private readonly byAddress: Map<string, WorkloadPort[]>;
  /** hostname → the `cluster|address` keys its endpoints are under. */
  private readonly keysByHostname: Map<string, Set<string>>;

  private constructor(byAddress: Map<string, WorkloadPort[]>, keysByHostname: Map<string, Set<string>>) {
    this.byAddress = byAddress;
    this.keysByHostname = keysByHostname;
  }

  static build(source: WorkloadSource): WorkloadPortIndex {
    const index = new WorkloadPortIndex(new Map(), new Map());
    for (const service of source.services) index.add(service, source.endpoints(service.hostname));
    return index;
  }

  /** This index with `hostnames` read again from `source`. */
  next(source: WorkloadSource, hostnames: Iterable<string>): WorkloadPortIndex {
    const index = new WorkloadPortIndex(new Map(this.byAddress), new Map(this.keysByHostname));
    for (const hostname of hostnames) {
      index.remove(hostname);
      const service = source.service(hostname);
      if (service) index.add(service, source.endpoints(hostname));
    }
    return index;
  }

  at(cluster: string, address: string): readonly WorkloadPort[] {
    return this.byAddress.get(`${cluster}|${address}`) ?? [];
  }

  private add(service: Service, endpoints: readonly Endpoint[]): void {
    const keys = new Set<string>();
    for (const endpoint of endpoints) {
      const port = service.ports.find((p) => p.name === endpoint.portName);
      if (!port) continue;
      const key = `${endpoint.cluster}|${endpoint.address}`;
      keys.add(key);
      // Arrays are shared with the index this one was copied from: never pushed to in place.
      this.byAddress.set(key, [...(this.byAddress.get(key) ?? []), { service, port, endpoint }]);
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
