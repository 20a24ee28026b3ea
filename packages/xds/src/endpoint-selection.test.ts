import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// The real gRPC client's EDS validator, so "gRPC accepts it" is checked, not assumed. It is
// not public API of grpc-js-xds; if it moves, these checks fail loudly rather than pass.
import { EndpointResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js';
import { Health, type Endpoint, type Locality, type NetworkGateway, type ServicePort } from '@meridian/model';
import { selectPortEndpoints, isMultiNetwork, selectEndpoints, usableGateways, type EndpointSelection, type SelectionProxy } from './endpoint-selection.ts';
import { encodeLoadAssignment } from './load-assignment.ts';
import { decodeMessage } from './protos.ts';
import { TypeUrl } from './type-url.ts';

const loc = (region: string, zone = '', subzone = ''): Locality => ({ region, zone, subzone });
const EAST_A = loc('us-east', 'us-east-1a');
const EAST_B = loc('us-east', 'us-east-1b');
const WEST = loc('us-west', 'us-west-1a');
const WEST_B = loc('us-west', 'us-west-1b');

interface EpOptions {
  network?: string;
  cluster?: string;
  health?: Health;
  stale?: boolean;
  portName?: string;
}
const ep = (address: string, locality: Locality, o: EpOptions = {}): Endpoint => ({
  address,
  port: 8080,
  portName: o.portName ?? 'grpc',
  cluster: o.cluster ?? o.network ?? 'net-east',
  network: o.network ?? 'net-east',
  locality,
  health: o.health ?? Health.Healthy,
  ...(o.stale ? { stale: true } : {}),
});
const gw = (network: string, address: string, port = 15443, source = 'config'): NetworkGateway => ({ network, address, port, source });
const gatewaysFrom = (list: readonly NetworkGateway[]) => (n: string) => list.filter((g) => g.network === n);
const proxy = (over: Partial<SelectionProxy> = {}): SelectionProxy => ({ cluster: 'net-east', network: 'net-east', locality: EAST_A, ...over });

const NAME = 'outbound|7070||echo.demo.svc.cluster.local';

interface Cla {
  cluster_name: string;
  endpoints?: Array<{
    locality: { region?: string; zone?: string };
    priority?: number;
    load_balancing_weight: { value: number };
    lb_endpoints: Array<{
      endpoint: { address: { socket_address: { address: string; port_value: number } } };
      health_status?: string;
      load_balancing_weight: { value: number };
    }>;
  }>;
}

/** Encodes the assignment as it goes on the wire and decodes it back, as a client would. */
function wire(selection: EndpointSelection): { bytes: Uint8Array; cla: Cla } {
  const bytes = encodeLoadAssignment(NAME, selection);
  return { bytes, cla: decodeMessage(TypeUrl.Endpoint, bytes) as unknown as Cla };
}

/** `priority locality weight: address:port HEALTH weight, ...` per locality. */
function summary(cla: Cla): string[] {
  return (cla.endpoints ?? []).map(
    (l) =>
      `${l.priority ?? 0} ${l.locality.region ?? ''}/${l.locality.zone ?? ''} w${l.load_balancing_weight.value}: ` +
      l.lb_endpoints
        .map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value} ${e.health_status ?? 'UNKNOWN'} ${e.load_balancing_weight.value}`)
        .join(', '),
  );
}

function assertGrpcAccepts(bytes: Uint8Array): void {
  const verdict = EndpointResourceType.get().decode({} as never, { type_url: TypeUrl.Endpoint, value: Buffer.from(bytes) });
  assert.equal(verdict.error, undefined, 'grpc-js-xds accepts the assignment');
}

/** The invariants gRPC needs, plus: the explanation lists exactly what the assignment holds. */
function assertConsistent(selection: EndpointSelection, cla: Cla): void {
  const localities = cla.endpoints ?? [];
  const priorities = [...new Set(localities.map((l) => l.priority ?? 0))].sort((a, b) => a - b);
  assert.deepEqual(priorities, priorities.map((_, i) => i), 'priorities contiguous from 0');
  for (const l of localities) {
    assert.ok(l.load_balancing_weight.value >= 1, 'locality weight >= 1');
    for (const e of l.lb_endpoints) assert.ok(e.load_balancing_weight.value >= 1, 'lb_endpoint weight >= 1');
  }
  const sentRows = selection.rows
    .filter((r) => r.sent)
    .map((r) => `${r.address}:${r.port} p${r.priority ?? '-'} w${r.weight}`)
    .sort();
  const inCla = localities
    .flatMap((l) =>
      l.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value} p${l.priority ?? 0} w${e.load_balancing_weight.value}`),
    )
    .sort();
  assert.deepEqual(sentRows, inCla, 'sent rows are the lb_endpoints');
}

interface Case {
  name: string;
  proxy?: Partial<SelectionProxy>;
  endpoints: Endpoint[];
  gateways?: NetworkGateway[];
  clusterLocal?: boolean;
  want: string[];
  /** `address reason` of some rows to check. */
  reasons?: string[];
}

const cases: Case[] = [
  {
    name: 'proxy on the endpoints network: sent as they are, even when gateways exist',
    endpoints: [ep('10.0.0.1', EAST_A), ep('10.0.0.2', WEST)],
    gateways: [gw('net-east', '192.0.2.1')],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1', '1 us-west/us-west-1a w1: 10.0.0.2:8080 HEALTHY 1'],
    reasons: ['10.0.0.1 same region/zone (us-east/us-east-1a)', '10.0.0.2 other region'],
  },
  {
    name: 'no gateway anywhere: the mesh is flat and every endpoint is reached directly',
    endpoints: [ep('10.0.0.1', EAST_A), ep('10.1.0.1', WEST, { network: 'net-west' })],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1', '1 us-west/us-west-1a w1: 10.1.0.1:8080 HEALTHY 1'],
  },
  {
    name: 'two remote networks behind their gateways, weighted 3:1 by healthy endpoints; unhealthy ones not counted',
    endpoints: [
      ep('10.0.0.1', EAST_A),
      ep('10.1.0.1', WEST, { network: 'net-west' }),
      ep('10.1.0.2', WEST, { network: 'net-west' }),
      ep('10.1.0.3', WEST, { network: 'net-west' }),
      ep('10.1.0.4', WEST, { network: 'net-west', health: Health.Unhealthy }),
      ep('10.2.0.1', WEST, { network: 'net-south' }),
    ],
    gateways: [gw('net-west', '1.2.3.4'), gw('net-south', '5.6.7.8')],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1', '1 us-west/us-west-1a w4: 1.2.3.4:15443 HEALTHY 3, 5.6.7.8:15443 HEALTHY 1'],
    reasons: [
      '10.1.0.1 other network net-west via gateway 1.2.3.4:15443 (weight 3)',
      '10.1.0.4 other network net-west, unhealthy: not counted behind its gateway',
      '10.2.0.1 other network net-south via gateway 5.6.7.8:15443 (weight 1)',
      '1.2.3.4 gateway of network net-west for 3 healthy endpoint(s); other region',
    ],
  },
  {
    name: 'a network without a gateway contributes nothing to other networks',
    endpoints: [ep('10.0.0.1', EAST_A), ep('10.1.0.1', WEST, { network: 'net-west' }), ep('10.3.0.1', EAST_A, { network: 'net-dark' })],
    gateways: [gw('net-west', '1.2.3.4')],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1', '1 us-west/us-west-1a w1: 1.2.3.4:15443 HEALTHY 1'],
    reasons: ['10.3.0.1 other network net-dark, not sent: it has no gateway'],
  },
  {
    name: 'a gateway named twice (config and a labelled Service) is listed once',
    endpoints: [ep('10.1.0.1', WEST, { network: 'net-west' }), ep('10.1.0.2', WEST, { network: 'net-west' })],
    gateways: [gw('net-west', '1.2.3.4'), gw('net-west', '1.2.3.4', 15443, 'service:west/istio-system/eastwestgateway')],
    want: ['0 us-west/us-west-1a w2: 1.2.3.4:15443 HEALTHY 2'],
  },
  {
    name: 'a gateway with a hostname is skipped (gRPC would NACK the whole assignment)',
    endpoints: [ep('10.0.0.1', EAST_A), ep('10.1.0.1', WEST, { network: 'net-west' })],
    gateways: [gw('net-west', 'lb.example.com')],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1'],
    reasons: ['10.1.0.1 other network net-west, not sent: its gateway lb.example.com:15443 is not an IP address'],
  },
  {
    name: 'several gateways share their network weight; every weight scales to stay whole',
    endpoints: [ep('10.0.0.1', WEST), ep('10.1.0.1', WEST, { network: 'net-west' }), ep('10.1.0.2', WEST, { network: 'net-west' }), ep('10.1.0.3', WEST, { network: 'net-west' })],
    gateways: [gw('net-west', '1.2.3.4'), gw('net-west', '1.2.3.5')],
    // 1 local endpoint against 3 remote ones: 2 : (3 + 3).
    want: ['0 us-west/us-west-1a w8: 10.0.0.1:8080 HEALTHY 2, 1.2.3.4:15443 HEALTHY 3, 1.2.3.5:15443 HEALTHY 3'],
    reasons: ['10.1.0.1 other network net-west via gateways 1.2.3.4:15443 (weight 3), 1.2.3.5:15443 (weight 3)'],
  },
  {
    name: 'a gateway standing for two localities at one priority is listed once, weights added',
    endpoints: [ep('10.1.0.1', WEST, { network: 'net-west' }), ep('10.1.0.2', WEST_B, { network: 'net-west' }), ep('10.1.0.3', WEST_B, { network: 'net-west' })],
    gateways: [gw('net-west', '1.2.3.4')],
    want: ['0 us-west/us-west-1a w3: 1.2.3.4:15443 HEALTHY 3'],
    reasons: ['10.1.0.2 other network net-west via gateway 1.2.3.4:15443 (weight 3)'],
  },
  {
    name: 'a gateway standing for two priorities is listed at the better one only',
    endpoints: [ep('10.1.0.1', EAST_A, { network: 'net-west' }), ep('10.1.0.2', WEST, { network: 'net-west' }), ep('10.0.0.1', EAST_B)],
    gateways: [gw('net-west', '1.2.3.4')],
    want: ['0 us-east/us-east-1a w1: 1.2.3.4:15443 HEALTHY 1', '1 us-east/us-east-1b w1: 10.0.0.1:8080 HEALTHY 1'],
    reasons: ['10.1.0.2 other network net-west via gateway 1.2.3.4:15443 (already listed at priority 0)'],
  },
  {
    name: 'stale endpoints rank below fresh ones, above localities with no healthy endpoint',
    endpoints: [
      ep('10.0.0.1', EAST_A, { stale: true, cluster: 'east-2' }),
      ep('10.0.0.2', WEST),
      ep('10.0.0.3', EAST_B, { health: Health.Unhealthy }),
    ],
    want: [
      '0 us-west/us-west-1a w1: 10.0.0.2:8080 HEALTHY 1',
      '1 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1',
      '2 us-east/us-east-1b w1: 10.0.0.3:8080 UNHEALTHY 1',
    ],
    reasons: [
      '10.0.0.1 stale cluster (demoted); same region/zone (us-east/us-east-1a)',
      '10.0.0.3 unhealthy, not used for new traffic; no healthy endpoint in locality',
    ],
  },
  {
    name: 'a locality with fresh and stale endpoints is sent as two localities at two priorities',
    endpoints: [ep('10.0.0.1', EAST_A), ep('10.0.0.2', EAST_A, { stale: true, cluster: 'east-2' }), ep('10.0.0.3', EAST_A, { health: Health.Draining })],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1, 10.0.0.3:8080 DRAINING 1', '1 us-east/us-east-1a w1: 10.0.0.2:8080 HEALTHY 1'],
  },
  {
    name: 'stale remote endpoints put their gateway in the stale band unless fresh ones already list it',
    endpoints: [
      ep('10.1.0.1', WEST, { network: 'net-west', stale: true, cluster: 'west-1' }),
      ep('10.2.0.1', WEST, { network: 'net-south', stale: true, cluster: 'south' }),
      ep('10.1.0.2', WEST, { network: 'net-west', cluster: 'west-2' }),
      ep('10.0.0.1', EAST_A, { health: Health.Unhealthy }),
    ],
    gateways: [gw('net-west', '1.2.3.4'), gw('net-south', '5.6.7.8')],
    want: ['0 us-west/us-west-1a w1: 1.2.3.4:15443 HEALTHY 1', '1 us-west/us-west-1a w1: 5.6.7.8:15443 HEALTHY 1', '2 us-east/us-east-1a w1: 10.0.0.1:8080 UNHEALTHY 1'],
    reasons: ['10.1.0.1 other network net-west via gateway 1.2.3.4:15443 (already listed at priority 0)', '5.6.7.8 gateway of network net-south for 1 healthy endpoint(s); stale cluster (demoted); other region'],
  },
  {
    name: 'an endpoint or proxy without a network is reached directly',
    proxy: { network: '' },
    endpoints: [ep('10.1.0.1', WEST, { network: 'net-west' }), ep('10.9.0.1', WEST, { network: '' })],
    gateways: [gw('net-west', '1.2.3.4')],
    want: ['0 us-west/us-west-1a w2: 10.1.0.1:8080 HEALTHY 1, 10.9.0.1:8080 HEALTHY 1'],
  },
  {
    name: 'cluster-local: other clusters are left out, with the reason',
    clusterLocal: true,
    endpoints: [ep('10.0.0.1', EAST_A), ep('10.1.0.1', WEST, { network: 'net-west' })],
    gateways: [gw('net-west', '1.2.3.4')],
    want: ['0 us-east/us-east-1a w1: 10.0.0.1:8080 HEALTHY 1'],
    reasons: ["10.1.0.1 cluster-local service: cluster net-west is not the proxy's (net-east)"],
  },
  {
    name: 'no endpoints: an empty assignment, still answered',
    endpoints: [],
    want: [],
  },
];

describe('selectEndpoints', () => {
  for (const c of cases) {
    it(c.name, () => {
      const selection = selectEndpoints(proxy(c.proxy), c.endpoints, gatewaysFrom(c.gateways ?? []), { clusterLocal: c.clusterLocal ?? false });
      const { bytes, cla } = wire(selection);
      assert.equal(cla.cluster_name, NAME);
      assert.deepEqual(summary(cla), c.want);
      assertGrpcAccepts(bytes);
      assertConsistent(selection, cla);
      const reasons = selection.rows.map((r) => `${r.address} ${r.reason}`);
      for (const want of c.reasons ?? []) assert.ok(reasons.includes(want), `row "${want}" in\n${reasons.join('\n')}`);
      // Every input endpoint is explained exactly once.
      const endpointRows = selection.rows.filter((r) => r.kind === 'endpoint').map((r) => r.address).sort();
      assert.deepEqual(endpointRows, c.endpoints.map((e) => e.address).sort());
    });
  }

  it('explains a gateway row with the clusters behind it and the weight it carries', () => {
    const selection = selectEndpoints(
      proxy(),
      [ep('10.1.0.1', WEST, { network: 'net-west', cluster: 'west-2' }), ep('10.1.0.2', WEST, { network: 'net-west', cluster: 'west-1' })],
      gatewaysFrom([gw('net-west', '1.2.3.4')]),
    );
    const gateway = selection.rows.find((r) => r.kind === 'gateway');
    assert.deepEqual(gateway && { ...gateway }, {
      kind: 'gateway',
      cluster: 'west-1,west-2',
      address: '1.2.3.4',
      port: 15443,
      network: 'net-west',
      locality: WEST,
      health: Health.Healthy,
      stale: false,
      sent: true,
      priority: 0,
      weight: 2,
      reason: 'gateway of network net-west for 2 healthy endpoint(s); other region',
    });
    const behind = selection.rows.filter((r) => r.kind === 'endpoint');
    assert.ok(behind.every((r) => !r.sent && r.priority === 0 && r.weight === 0));
    assert.equal(selection.multiNetwork, true);
  });
});

describe('selectPortEndpoints', () => {
  it('selects the endpoints of the given service port only', () => {
    const port: ServicePort = { name: 'grpc', port: 7070, protocol: 'TCP' };
    const selection = selectPortEndpoints(proxy(), port, [ep('10.0.0.1', EAST_A), ep('10.0.0.2', EAST_A, { portName: 'http' })], gatewaysFrom([]));
    assert.deepEqual(selection.rows.map((r) => r.address), ['10.0.0.1']);
  });
});

describe('isMultiNetwork and usableGateways', () => {
  it('is on when the proxy network or an endpoint network has a gateway', () => {
    const eps = [ep('1', WEST, { network: 'b' })];
    assert.equal(isMultiNetwork('a', eps, gatewaysFrom([])), false);
    assert.equal(isMultiNetwork('a', eps, gatewaysFrom([gw('a', '1.1.1.1')])), true);
    assert.equal(isMultiNetwork('a', eps, gatewaysFrom([gw('b', '1.1.1.1')])), true);
    assert.equal(isMultiNetwork('a', eps, gatewaysFrom([gw('c', '1.1.1.1')])), false, 'gateways of unrelated networks do not matter');
  });

  it('dedupes by address and port and skips names', () => {
    const { usable, skipped } = usableGateways([gw('n', '1.1.1.1'), gw('n', '1.1.1.1', 15443, 'other'), gw('n', '1.1.1.1', 15444), gw('n', 'gw.example'), gw('n', '2001:db8::1')]);
    assert.deepEqual(usable.map((g) => `${g.address}:${g.port}`), ['1.1.1.1:15443', '1.1.1.1:15444', '2001:db8::1:15443']);
    assert.deepEqual(skipped.map((g) => g.address), ['gw.example']);
  });
});
