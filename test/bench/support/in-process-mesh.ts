/**
 * The generated mesh (`svc-<i>` in `demo`, ten endpoints each) as an in-process registry, and
 * the sidecar of the workload behind svc-i's first endpoint: what benches that build a
 * sidecar's resources without a server use.
 */
import { EMPTY_LOCALITY, Health, ProxyType, type Endpoint, type ProxyNode, type Service, type ServiceDiscovery } from '@meridian/model';
import { ENDPOINTS_PER_SERVICE } from './generated-mesh.ts';

export function inProcessMesh(count: number): ServiceDiscovery {
  const services: Service[] = Array.from({ length: count }, (_, i) => ({
    hostname: `svc-${i}.demo.svc.cluster.local`,
    name: `svc-${i}`,
    namespace: 'demo',
    ports: [{ name: 'grpc', port: 8080, protocol: 'TCP' }],
    clusters: ['c1'],
    addresses: { c1: [`10.96.${(i >> 8) & 255}.${i & 255}`] },
    serviceAccounts: [],
  }));
  const endpoints = new Map<string, Endpoint[]>(
    services.map((s, i) => [
      s.hostname,
      Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, e) => ({
        address: `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`,
        port: 8080,
        portName: 'grpc',
        cluster: 'c1',
        network: 'c1',
        locality: { region: 'r1', zone: `z${e % 3}`, subzone: '' },
        health: Health.Healthy,
        serviceAccount: `svc-${i}`,
      })),
    ]),
  );
  // Indexed like the real registry, so a bench measures building, not a linear search.
  const byHostname = new Map(services.map((s) => [s.hostname, s]));
  return {
    services: () => services,
    service: (h) => byHostname.get(h),
    endpoints: (h) => endpoints.get(h) ?? [],
    clusterIds: () => ['c1'],
    networkGateways: () => [],
    allNetworkGateways: () => [],
  };
}

/** The sidecar of svc-i's first endpoint, labelled `app: svc-<i>`. */
export function benchSidecar(i: number): ProxyNode {
  return {
    id: `sidecar~10.${(i >> 8) & 255}.${i & 255}.1~svc-${i}-0.demo~demo.svc.cluster.local`,
    type: ProxyType.Sidecar,
    cluster: 'c1',
    network: 'c1',
    namespace: 'demo',
    locality: EMPTY_LOCALITY,
    ipAddresses: [`10.${(i >> 8) & 255}.${i & 255}.1`],
    labels: { app: `svc-${i}` },
    serviceAccount: `svc-${i}`,
  };
}
