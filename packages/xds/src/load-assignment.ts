import { Health } from '@meridian/model';
import type { EndpointSelection } from './endpoint-selection.ts';
import { envoyProtoRoot, typeForUrl } from './protos.ts';
import { TypeUrl } from './type-url.ts';

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

export function encodeLoadAssignment(clusterName: string, selection: EndpointSelection, policy?: LoadAssignmentPolicy): Uint8Array {
  const health = healthStatusNumbers();
  const message = {
    cluster_name: clusterName,
    endpoints: selection.localities.map((group) => ({
      locality: { region: group.locality.region, zone: group.locality.zone, sub_zone: group.locality.subzone },
      lb_endpoints: group.endpoints.map((ep) => ({
        endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } },
        health_status: health[ep.health],
        load_balancing_weight: { value: ep.weight },
      })),
      load_balancing_weight: { value: group.weight },
      priority: group.priority,
    })),
    ...(policy
      ? { policy: { overprovisioning_factor: { value: policy.overprovisioningFactor }, weighted_priority_health: policy.weightedPriorityHealth } }
      : {}),
  };
  return typeForUrl(TypeUrl.Endpoint).encode(message).finish();
}
