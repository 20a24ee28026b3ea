/** A test "cluster": a Kubernetes API test server seeded with one echo Service and its endpoints. */
import { KubeApiServer, type KubeObjectInput } from '@meridian/testkit';

/** Plain manifests (spec, addressType, data...) as the test server's input type. */
const k8s = (o: object): KubeObjectInput => o as KubeObjectInput;

export const SYSTEM_NAMESPACE = 'meridian-system';

export interface KubeTestCluster {
  readonly id: string;
  readonly api: KubeApiServer;
  readonly region: string;
  readonly token: string;
  setEcho(addresses: Array<{ ip: string; ready?: boolean }>, port: number): void;
}

export async function startKubeCluster(id: string, region: string, options: { network?: string } = {}): Promise<KubeTestCluster> {
  const token = `token-${id}-1`;
  const api = await KubeApiServer.start({
    tokens: { [token]: { username: `system:serviceaccount:${SYSTEM_NAMESPACE}:meridian-reader` } },
    bookmarkIntervalMs: 200,
  });
  api.upsert({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: SYSTEM_NAMESPACE, ...(options.network ? { labels: { 'topology.istio.io/network': options.network } } : {}) },
  });
  api.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
  api.upsert({ apiVersion: 'v1', kind: 'Node', metadata: { name: `${id}-node`, labels: { 'topology.kubernetes.io/region': region } } });
  api.upsert(k8s({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'demo' }, spec: { ports: [{ name: 'grpc', port: 7070 }] } }));
  return {
    id,
    api,
    region,
    token,
    setEcho(addresses, port) {
      api.upsert(k8s({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `echo-${id}`, namespace: 'demo', labels: { 'kubernetes.io/service-name': 'echo' } },
        addressType: 'IPv4',
        ports: [{ name: 'grpc', port, protocol: 'TCP' }],
        endpoints: addresses.map((a) => ({ addresses: [a.ip], conditions: { ready: a.ready ?? true }, nodeName: `${id}-node` })),
      }));
    },
  };
}

export function remoteSecret(name: string, clusters: Record<string, string>, labels: Record<string, string> = { 'meridian.dev/multi-cluster': 'true' }): KubeObjectInput {
  return k8s({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: SYSTEM_NAMESPACE, labels },
    data: Object.fromEntries(Object.entries(clusters).map(([id, kubeconfig]) => [id, Buffer.from(kubeconfig).toString('base64')])),
  });
}
