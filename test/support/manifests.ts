/** Builders for the Kubernetes objects tests write into manifest directories. */
import { stringify } from 'yaml';

export interface BackendSpec {
  cluster: string;
  address: string;
  port: number;
  ready?: boolean;
  node?: string;
  serviceAccount?: string;
}

export function service(name: string, namespace: string, ports: Array<{ name: string; port: number }>): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports } };
}

export function node(name: string, region: string, zone = '', subzone = ''): object {
  const labels: Record<string, string> = { 'topology.kubernetes.io/region': region };
  if (zone) labels['topology.kubernetes.io/zone'] = zone;
  if (subzone) labels['topology.istio.io/subzone'] = subzone;
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

export function endpointSlice(
  name: string,
  namespace: string,
  serviceName: string,
  port: { name: string; port: number },
  endpoints: Array<{ address: string; ready?: boolean; node?: string }>,
): object {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: port.name, port: port.port, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.address],
      conditions: { ready: e.ready ?? true },
      ...(e.node ? { nodeName: e.node } : {}),
    })),
  };
}

export function yamlDocs(...objects: object[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

/** A DestinationRule for `host` in `demo` with subsets v1 and v2 by the `version` label: what traffic policy tests route between. */
export function versionSubsets(host: string): object {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'echo', namespace: 'demo' },
    spec: { host, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
  };
}

/** The VirtualService `echo` in `demo` for host `echo`, with these `http` (and `tcp`) rules. */
export function echoRoutes(http: object[], tcp?: object[]): object {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'echo', namespace: 'demo' }, spec: { hosts: ['echo'], http, ...(tcp ? { tcp } : {}) } };
}
