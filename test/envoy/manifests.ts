/** Kubernetes objects for the Envoy tests' manifest clusters: a Service with a ClusterIP, its pods and endpoints. */
import { yamlDocs } from '../support/manifests.ts';
import type { EnvoyMesh, Workload } from '../support/envoy-mesh.ts';

export interface PortSpec {
  readonly name: string;
  readonly port: number;
  /** The application's port (targetPort, the endpoint's port). */
  readonly target: number;
}

/** The echo Service's ports: one per protocol the pod app serves. */
export const ECHO_PORTS = {
  http: { name: 'http', port: 8080, target: 18080 },
  h2c: { name: 'http2-echo', port: 8081, target: 18081 },
  grpc: { name: 'grpc', port: 7070, target: 17070 },
  tcp: { name: 'tcp-echo', port: 9000, target: 19000 },
} as const satisfies Record<string, PortSpec>;

/** What the pod app serves for the echo ports. */
export const ECHO_APP_PORTS = {
  http1: ECHO_PORTS.http.target,
  h2c: ECHO_PORTS.h2c.target,
  grpc: ECHO_PORTS.grpc.target,
  tcp: ECHO_PORTS.tcp.target,
};

export interface PodSpec {
  readonly name: string;
  readonly address: string;
  readonly serviceAccount: string;
  readonly ready?: boolean;
  /** The Node it runs on, which gives its locality (default `<cluster>-node`). */
  readonly node?: string;
  /** Labels besides `app: <service name>` (what DestinationRule subsets select). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** A Service (same ClusterIP in every cluster, as the tests' clients dial it) with this cluster's pods. */
export function serviceManifests(options: {
  readonly name: string;
  readonly namespace: string;
  readonly vip: string;
  /** A second ClusterIP (dual stack: the IPv6 one). */
  readonly vip6?: string;
  readonly ports: readonly PortSpec[];
  readonly cluster: string;
  readonly pods: readonly PodSpec[];
}): string {
  const { name, namespace, cluster } = options;
  const nodeName = `${cluster}-node`;
  const objects: object[] = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: {
        clusterIP: options.vip,
        ...(options.vip6 ? { clusterIPs: [options.vip, options.vip6], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' } : {}),
        ports: options.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.target })),
      },
    },
  ];
  if (options.pods.length === 0) return yamlDocs(...objects);
  for (const pod of options.pods) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod.name, namespace, labels: { app: name, ...pod.labels } },
      spec: { serviceAccountName: pod.serviceAccount, nodeName: pod.node ?? nodeName },
    });
  }
  objects.push({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-${cluster}`, namespace, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: options.ports.map((p) => ({ name: p.name, port: p.target, protocol: 'TCP' })),
    endpoints: options.pods.map((pod) => ({
      addresses: [pod.address],
      conditions: { ready: pod.ready ?? true },
      nodeName: pod.node ?? nodeName,
      targetRef: { kind: 'Pod', name: pod.name, namespace },
    })),
  });
  return yamlDocs(...objects);
}

/** Istio's east-west gateway Service for `network`: reached at `address` (its load balancer) on 15443. */
export function eastWestGatewayService(network: string, address: string): string {
  return yamlDocs({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'istio-eastwestgateway', namespace: 'istio-system', labels: { 'topology.istio.io/network': network } },
    spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: 15443, targetPort: 15443 }] },
    status: { loadBalancer: { ingress: [{ ip: address }] } },
  });
}

/**
 * The two sidecars most security and telemetry tests call across: `sleep` (a client, no
 * ports) in east and `echo` (labelled `app=echo`, serving the echo ports) in west, both in
 * `demo`, from the pods `sleep-east-0` and `echo-west-0` of `mesh`.
 */
export function sleepAndEcho(mesh: EnvoyMesh, sleepLabels: string[] = []): Promise<[Workload, Workload]> {
  return Promise.all([
    mesh.sidecar(mesh.pod('sleep-east-0'), { cluster: 'east', namespace: 'demo', serviceAccount: 'sleep', locality: 'us-east/us-east-1a', ports: {}, labels: sleepLabels }),
    mesh.sidecar(mesh.pod('echo-west-0'), { cluster: 'west', namespace: 'demo', serviceAccount: 'echo', locality: 'us-west/us-west-1a', ports: ECHO_APP_PORTS, labels: ['app=echo'] }),
  ]);
}
