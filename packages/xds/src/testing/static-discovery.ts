import { EMPTY_LOCALITY, ProxyType, type Endpoint, type NetworkGateway, type ProxyNode, type Service, type ServiceDiscovery } from '@meridian/model';

/**
 * An in-memory registry behind the ServiceDiscovery port, for this package's tests: the
 * fields are public so a test can change the mesh between calls.
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

  allNetworkGateways(): readonly NetworkGateway[] {
    return this.gateways;
  }
}

/** A proxyless gRPC client in cluster `east`, namespace `demo`, with no locality. */
export function testProxy(over: Partial<ProxyNode> = {}): ProxyNode {
  return {
    id: 'p',
    type: ProxyType.ProxylessGrpc,
    cluster: 'east',
    network: 'east',
    namespace: 'demo',
    locality: EMPTY_LOCALITY,
    ipAddresses: [],
    labels: {},
    ...over,
  };
}
