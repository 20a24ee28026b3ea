import type { Endpoint, NetworkGateway, Service, ServiceDiscovery } from '@meridian/model';

/**
 * An in-memory registry behind the ServiceDiscovery port, for this package's tests: the
 * fields are public so a test can change the mesh between calls. Not exported by index.ts.
 */
export class StaticDiscovery implements ServiceDiscovery {
  svcs: Service[];
  readonly eps: Record<string, Endpoint[]>;
  gateways: NetworkGateway[] = [];

  constructor(svcs: Service[], eps: Record<string, Endpoint[]>) {
    this.svcs = svcs;
    this.eps = eps;
  }

  services(): readonly Service[] {
    return this.svcs;
  }

  service(hostname: string): Service | undefined {
    return this.svcs.find((s) => s.hostname === hostname);
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.eps[hostname] ?? [];
  }

  clusterIds(): readonly string[] {
    return ['east', 'west'];
  }

  networkGateways(network: string): readonly NetworkGateway[] {
    return this.gateways.filter((g) => g.network === network);
  }
}
