import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Health, type Endpoint, type Locality, type NetworkGateway } from '@meridian/model';
import { selectEndpoints, type EndpointSelection } from './endpoint-selection.ts';
import { ENVOY_LOAD_ASSIGNMENT_POLICY } from './envoy-resources.ts';
import { encodeLoadAssignment } from './load-assignment.ts';
import { decodeMessage, encodeMessage } from './protos.ts';
import { TypeUrl } from './type-url.ts';

const NAME = 'outbound|8080||echo.demo.svc.cluster.local';
const loc = (region: string, zone: string, subzone = ''): Locality => ({ region, zone, subzone });
const ep = (address: string, locality: Locality, network: string, health: Health = Health.Healthy, stale = false): Endpoint => ({
  address,
  port: 8080,
  portName: 'grpc',
  cluster: network,
  network,
  locality,
  health,
  stale,
});

const HEALTH_NAME: Record<Health, string> = { [Health.Healthy]: 'HEALTHY', [Health.Unhealthy]: 'UNHEALTHY', [Health.Draining]: 'DRAINING' };

/** The assignment the conventional way: enum names, converted by protobufjs' fromObject. */
function viaFromObject(selection: EndpointSelection, policy: boolean): Uint8Array {
  return encodeMessage(TypeUrl.Endpoint, {
    cluster_name: NAME,
    endpoints: selection.localities.map((g) => ({
      locality: { region: g.locality.region, zone: g.locality.zone, sub_zone: g.locality.subzone },
      lb_endpoints: g.endpoints.map((e) => ({
        endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
        health_status: HEALTH_NAME[e.health],
        load_balancing_weight: { value: e.weight },
      })),
      load_balancing_weight: { value: g.weight },
      priority: g.priority,
    })),
    ...(policy ? { policy: { overprovisioning_factor: { value: 140 }, weighted_priority_health: true } } : {}),
  });
}

describe('encodeLoadAssignment', () => {
  const gateways = (n: string): NetworkGateway[] => (n === 'west' ? [{ network: 'west', address: '192.0.2.9', port: 15443, source: 'config' }] : []);
  // Every shape an assignment takes: localities at several priorities, every health, a stale
  // cluster, a gateway standing for remote endpoints, an IPv6 address.
  const selection = selectEndpoints(
    { cluster: 'east', network: 'east', locality: loc('us-east', 'a') },
    [
      ep('10.0.0.1', loc('us-east', 'a'), 'east'),
      ep('10.0.0.2', loc('us-east', 'a', 'rack1'), 'east', Health.Draining),
      ep('fd00::3', loc('us-east', 'b'), 'east', Health.Unhealthy),
      ep('10.0.0.4', loc('us-central', 'a'), 'east', Health.Healthy, true),
      ep('10.1.0.1', loc('us-west', 'a'), 'west'),
      ep('10.1.0.2', loc('us-west', 'a'), 'west'),
    ],
    gateways,
  );

  it('writes the same bytes as protobufjs fromObject + encode, with and without a policy', () => {
    assert.ok(selection.localities.length >= 4, 'the selection covers several priorities');
    assert.deepEqual(Buffer.from(encodeLoadAssignment(NAME, selection)), Buffer.from(viaFromObject(selection, false)));
    assert.deepEqual(
      Buffer.from(encodeLoadAssignment(NAME, selection, ENVOY_LOAD_ASSIGNMENT_POLICY)),
      Buffer.from(viaFromObject(selection, true)),
    );
  });

  it('decodes to the health statuses, weights and gateway the selection chose', () => {
    const cla = decodeMessage(TypeUrl.Endpoint, encodeLoadAssignment(NAME, selection)) as {
      endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string } } }; health_status?: string; load_balancing_weight: { value: number } }> }>;
    };
    const flat = cla.endpoints.flatMap((l) =>
      l.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address} ${e.health_status ?? 'UNKNOWN'} ${e.load_balancing_weight.value}`),
    );
    assert.deepEqual(flat.sort(), ['10.0.0.1 HEALTHY 1', '10.0.0.2 DRAINING 1', '10.0.0.4 HEALTHY 1', '192.0.2.9 HEALTHY 2', 'fd00::3 UNHEALTHY 1']);
  });

  it("with workloads, each endpoint names the workload behind it (labels, else the pod); a gateway names none", () => {
    const labelled = selectEndpoints(
      { cluster: 'east', network: 'east', locality: loc('us-east', 'a') },
      [
        { ...ep('10.0.0.1', loc('us-east', 'a'), 'east'), pod: 'shop/db-7f9c-x2', labels: { app: 'db', 'service.istio.io/canonical-name': 'postgres' } },
        { ...ep('10.0.0.2', loc('us-east', 'a'), 'east'), pod: 'shop/cache-0' },
        ep('10.0.0.3', loc('us-east', 'a'), 'east'),
        ep('10.1.0.1', loc('us-west', 'a'), 'west'),
      ],
      gateways,
    );
    const cla = decodeMessage(TypeUrl.Endpoint, encodeLoadAssignment(NAME, labelled, ENVOY_LOAD_ASSIGNMENT_POLICY, { serviceNamespace: 'demo' })) as {
      endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string } } }; metadata?: { filter_metadata: Record<string, { fields: Record<string, { stringValue: string }> }> } }> }>;
    };
    // A google.protobuf.Struct, as plain strings.
    const plain = (s: { fields: Record<string, { stringValue: string }> } | undefined) => (s ? Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, v.stringValue])) : null);
    const byAddress = Object.fromEntries(cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => [e.endpoint.address.socket_address.address, plain(e.metadata?.filter_metadata['meridian'])])));
    assert.deepEqual(byAddress, {
      '10.0.0.1': { workload: 'postgres', namespace: 'shop', cluster: 'east' },
      '10.0.0.2': { workload: 'cache-0', namespace: 'shop', cluster: 'east' },
      '10.0.0.3': { workload: 'unknown', namespace: 'demo', cluster: 'east' },
      '192.0.2.9': null,
    });
    assert.deepEqual(Buffer.from(encodeLoadAssignment(NAME, selection)), Buffer.from(viaFromObject(selection, false)), 'without, nothing changes');
  });
});
