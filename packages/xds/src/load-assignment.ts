import { canonicalWorkloadName, Health, type Endpoint } from '@meridian/model';
import type { EndpointSelection } from './endpoint-selection.ts';
import { envoyProtoRoot, typeForUrl } from './protos.ts';
import { TypeUrl } from './type-url.ts';
import { METRICS_METADATA_NAMESPACE } from './workload-metrics.ts';

/**
 * ClusterLoadAssignment bytes from an endpoint selection: what both gRPC clients and Envoy
 * get over EDS. EDS is the resource built most (one per service port and endpoint view,
 * rebuilt on every endpoint change), so it skips protobufjs' `fromObject` pass, which copies
 * the whole tree only to turn enum names into numbers: the object is built in message shape
 * (enum numbers, wrappers as `{ value }`, snake_case fields) and encoded directly. Its bytes
 * are checked against `fromObject`'s in `load-assignment.test.ts`.
 */

export interface LoadAssignmentPolicy {
  readonly overprovisioningFactor: number;
  readonly weightedPriorityHealth: boolean;
}

let healthStatus: Record<Health, number> | undefined;

function healthStatusNumbers(): Record<Health, number> {
  if (healthStatus) return healthStatus;
  const values = envoyProtoRoot().lookupEnum('envoy.config.core.v3.HealthStatus').values;
  const number = (name: string): number => {
    const n = values[name];
    if (n === undefined) throw new Error(`envoy.config.core.v3.HealthStatus has no ${name}`);
    return n;
  };
  healthStatus = { [Health.Healthy]: number('HEALTHY'), [Health.Unhealthy]: number('UNHEALTHY'), [Health.Draining]: number('DRAINING') };
  return healthStatus;
}

/**
 * `workloads`: each endpoint also carries the workload behind it (`meridian` metadata:
 * `workload`, `namespace`, `cluster`), which a client's sidecar labels its TCP metrics with
 * (TCP has no headers to exchange identities in). Namespace: the endpoint's own, else
 * `serviceNamespace`. A gateway standing for remote endpoints carries none.
 */
export function encodeLoadAssignment(clusterName: string, selection: EndpointSelection, policy?: LoadAssignmentPolicy, workloads?: { readonly serviceNamespace: string }): Uint8Array {
  const health = healthStatusNumbers();
  const message = {
    cluster_name: clusterName,
    endpoints: selection.localities.map((group) => ({
      locality: { region: group.locality.region, zone: group.locality.zone, sub_zone: group.locality.subzone },
      lb_endpoints: group.endpoints.map((ep) => {
        const behind = workloads && ep.kind === 'endpoint' ? ep.behind[0] : undefined;
        return {
          endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } },
          health_status: health[ep.health],
          ...(behind && workloads ? { metadata: workloadMetadata(behind, workloads.serviceNamespace) } : {}),
          load_balancing_weight: { value: ep.weight },
        };
      }),
      load_balancing_weight: { value: group.weight },
      priority: group.priority,
    })),
    ...(policy
      ? { policy: { overprovisioning_factor: { value: policy.overprovisioningFactor }, weighted_priority_health: policy.weightedPriorityHealth } }
      : {}),
  };
  return typeForUrl(TypeUrl.Endpoint).encode(message).finish();
}

function workloadMetadata(endpoint: Endpoint, serviceNamespace: string): object {
  const [podNamespace, podName] = endpoint.pod?.split('/') ?? [];
  // google.protobuf.Struct in message shape: protobufjs's own definition names its fields in camelCase.
  const value = (v: string) => ({ stringValue: v });
  return {
    filter_metadata: {
      [METRICS_METADATA_NAMESPACE]: {
        fields: { workload: value(canonicalWorkloadName(endpoint.labels ?? {}, podName)), namespace: value(podNamespace || serviceNamespace), cluster: value(endpoint.cluster) },
      },
    },
  };
}
