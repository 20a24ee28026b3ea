/**
 * Pure conversion from Kubernetes objects to the mesh model. Every source (manifest files,
 * the Kubernetes API) feeds the same functions, so a cluster means the same thing however
 * it is read.
 */
import { isIP } from 'node:net';
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { WorkloadEntry } from './kube-objects.ts';
import {
  EMPTY_LOCALITY,
  Health,
  serviceHostname,
  type ClusterId,
  type ClusterService,
  type Endpoint,
  type Locality,
  type NetworkId,
  type PortProtocol,
  type ServicePort,
} from '@meridian/model';

export const Label = {
  Region: 'topology.kubernetes.io/region',
  Zone: 'topology.kubernetes.io/zone',
  Subzone: 'topology.istio.io/subzone',
  Network: 'topology.istio.io/network',
  ServiceName: 'kubernetes.io/service-name',
} as const;

export interface ConvertContext {
  readonly cluster: ClusterId;
  readonly network: NetworkId;
  readonly domainSuffix: string;
}

/** Converts a Service; ExternalName services carry no endpoints of ours and are skipped. */
export function convertService(svc: V1Service, ctx: ConvertContext): ClusterService | undefined {
  const name = svc.metadata?.name;
  const namespace = svc.metadata?.namespace ?? 'default';
  if (!name || svc.spec?.type === 'ExternalName') return undefined;
  const ports: ServicePort[] = (svc.spec?.ports ?? []).map((p) => {
    const appProtocol = p.appProtocol ?? protocolFromPortName(p.name);
    return {
      name: p.name ?? '',
      port: p.port,
      protocol: (p.protocol ?? 'TCP') as PortProtocol,
      ...(appProtocol ? { appProtocol } : {}),
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    };
  });
  const clusterIps = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []);
  return {
    hostname: serviceHostname(name, namespace, ctx.domainSuffix),
    name,
    namespace,
    cluster: ctx.cluster,
    ports: ports.sort((a, b) => a.port - b.port),
    addresses: clusterIps.filter((ip) => ip && ip !== 'None'),
  };
}

/** Istio's convention: a port named `grpc`, `grpc-web`, `http2-foo` declares its protocol. */
export function protocolFromPortName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const known = ['grpc', 'grpc-web', 'http', 'http2', 'https', 'tcp', 'tls', 'mongo', 'redis', 'mysql'];
  // The whole name first (`grpc-web`), then the part before the first `-` (`grpc-echo`).
  const whole = name.toLowerCase();
  if (known.includes(whole)) return whole;
  const prefix = whole.split('-')[0];
  return prefix && known.includes(prefix) ? prefix : undefined;
}

export function nodeLocality(node: V1Node | undefined): Locality | undefined {
  const labels = node?.metadata?.labels;
  if (!labels) return undefined;
  const region = labels[Label.Region] ?? '';
  const zone = labels[Label.Zone] ?? '';
  const subzone = labels[Label.Subzone] ?? '';
  return region || zone || subzone ? { region, zone, subzone } : undefined;
}

/**
 * Kubernetes' own reading of the conditions: `ready` unset means ready; a terminating
 * endpoint that still serves is draining, one that does not serve is unhealthy.
 */
export function endpointHealth(conditions: { ready?: boolean; serving?: boolean; terminating?: boolean } | undefined): Health {
  const ready = conditions?.ready ?? true;
  if (ready && !conditions?.terminating) return Health.Healthy;
  if (conditions?.terminating && (conditions.serving ?? ready)) return Health.Draining;
  return Health.Unhealthy;
}

/** What an EndpointSlice needs to know about the cluster's Nodes and Pods. */
export interface EndpointLookup {
  node(name: string): V1Node | undefined;
  pod(namespace: string, name: string): V1Pod | undefined;
}

export interface SliceEndpoints {
  /** `namespace/name` of the Service the slice belongs to. */
  readonly serviceKey: string;
  readonly endpoints: readonly Endpoint[];
  /** Addresses left out, with why: one bad address must not make clients reject the whole service. */
  readonly rejected: readonly RejectedAddress[];
}

export interface RejectedAddress {
  /** `namespace/name` of the slice. */
  readonly slice: string;
  readonly address: string;
  readonly reason: string;
}

const IP_VERSION = { IPv4: 4, IPv6: 6 } as const;

/**
 * Why an address cannot go into EDS, or undefined when it can. Envoy and gRPC clients reject
 * a whole ClusterLoadAssignment over one bad socket address, so each is checked here.
 */
export function addressProblem(address: string, addressType?: 'IPv4' | 'IPv6'): string | undefined {
  const version = isIP(address);
  if (addressType === undefined) return version === 0 ? 'not an IP address' : undefined;
  return version === IP_VERSION[addressType] ? undefined : `not an ${addressType} address (addressType ${addressType})`;
}

/** Converts an EndpointSlice; slices without a service-name label or of FQDN type are skipped. */
export function convertEndpointSlice(
  slice: V1EndpointSlice,
  ctx: ConvertContext,
  lookup: EndpointLookup,
): SliceEndpoints | undefined {
  const namespace = slice.metadata?.namespace ?? 'default';
  const serviceName = slice.metadata?.labels?.[Label.ServiceName];
  if (!serviceName || slice.addressType === 'FQDN') return undefined;
  // The API server allows only these three; anything else is a manifest typo, checked per address below.
  const addressType = slice.addressType === 'IPv6' ? 'IPv6' : 'IPv4';
  const sliceKey = `${namespace}/${slice.metadata?.name ?? ''}`;
  const endpoints: Endpoint[] = [];
  const rejected: RejectedAddress[] = [];
  for (const ep of slice.endpoints ?? []) {
    const pod =
      ep.targetRef?.kind === 'Pod' && ep.targetRef.name
        ? lookup.pod(ep.targetRef.namespace ?? namespace, ep.targetRef.name)
        : undefined;
    const locality =
      (ep.nodeName ? nodeLocality(lookup.node(ep.nodeName)) : undefined) ??
      (ep.zone ? { ...EMPTY_LOCALITY, zone: ep.zone } : EMPTY_LOCALITY);
    const network = pod?.metadata?.labels?.[Label.Network] ?? ctx.network;
    const health = endpointHealth(ep.conditions);
    const serviceAccount = pod?.spec?.serviceAccountName;
    const labels = pod?.metadata?.labels;
    for (const address of ep.addresses) {
      const problem = addressProblem(address, addressType);
      if (problem) {
        rejected.push({ slice: sliceKey, address, reason: problem });
        continue;
      }
      for (const port of slice.ports ?? []) {
        if (port.port === undefined) continue;
        endpoints.push({
          address,
          port: port.port,
          portName: port.name ?? '',
          cluster: ctx.cluster,
          network,
          locality,
          health,
          ...(serviceAccount ? { serviceAccount } : {}),
          ...(ep.targetRef?.kind === 'Pod' && ep.targetRef.name
            ? { pod: `${ep.targetRef.namespace ?? namespace}/${ep.targetRef.name}` }
            : {}),
          ...(ep.nodeName ? { nodeName: ep.nodeName } : {}),
          ...(labels && Object.keys(labels).length > 0 ? { labels } : {}),
        });
      }
    }
  }
  return { serviceKey: `${namespace}/${serviceName}`, endpoints, rejected };
}

/** The labels a WorkloadEntry's workload carries: its spec's, else its own metadata's. */
export function workloadEntryLabels(entry: WorkloadEntry): Readonly<Record<string, string>> {
  return entry.spec?.labels ?? entry.metadata?.labels ?? {};
}

/**
 * Converts a WorkloadEntry that joins a Service (same namespace, labels matching its
 * selector: the caller checks) into one endpoint per Service port. Undefined without an
 * address; an address that cannot be served is `rejected` with why.
 */
export function convertWorkloadEntry(
  entry: WorkloadEntry,
  service: V1Service,
  ctx: ConvertContext,
): { readonly endpoints: readonly Endpoint[] } | { readonly rejected: string } | undefined {
  const spec = entry.spec;
  if (!spec?.address) return undefined;
  const problem = addressProblem(spec.address);
  if (problem) return { rejected: problem };
  const [region = '', zone = '', subzone = ''] = (spec.locality ?? '').split('/');
  const labels = workloadEntryLabels(entry);
  const endpoints = (service.spec?.ports ?? []).map((p): Endpoint => {
    const name = p.name ?? '';
    return {
      address: spec.address ?? '',
      port: spec.ports?.[name] ?? (typeof p.targetPort === 'number' ? p.targetPort : p.port),
      portName: name,
      cluster: ctx.cluster,
      network: spec.network ?? ctx.network,
      locality: { region, zone, subzone },
      health: Health.Healthy,
      ...(spec.serviceAccount ? { serviceAccount: spec.serviceAccount } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
    };
  });
  return { endpoints };
}

export function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return (
    a.cluster.localeCompare(b.cluster) ||
    a.address.localeCompare(b.address) ||
    a.port - b.port ||
    a.portName.localeCompare(b.portName)
  );
}
