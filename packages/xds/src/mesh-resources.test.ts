import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigKind,
  hostnameKeys,
  Health,
  ProxyType,
  type Endpoint,
  type ProxyNode,
  type Service,
} from '@meridian/model';
import { MAX_SHARED_ANSWERS, MeshResources } from './mesh-resources.ts';
import { decodeMessage, protoType } from './protos.ts';
import type { GeneratedResource } from './resource-source.ts';
import { TypeUrl } from './type-url.ts';
import { StaticDiscovery, testProxy } from './testing/index.ts';


const svc = (name: string, ns: string, ports: number[]): Service => ({
  hostname: `${name}.${ns}.svc.cluster.local`,
  name,
  namespace: ns,
  ports: ports.map((p) => ({ name: `grpc-${p}`, port: p, protocol: 'TCP' })),
  clusters: ['east', 'west'],
  addresses: {},
  serviceAccounts: [],
});
const ep = (address: string, cluster: string, region: string, portName = 'grpc-7070'): Endpoint => ({
  address,
  port: 17070,
  portName,
  cluster,
  network: cluster,
  locality: { region, zone: '', subzone: '' },
  health: Health.Healthy,
});
const proxy = testProxy;

function setup() {
  const discovery = new StaticDiscovery(
    [svc('echo', 'demo', [7070]), svc('multi', 'demo', [80, 81]), svc('kubernetes', 'default', [443])],
    {
      'echo.demo.svc.cluster.local': [ep('10.0.0.1', 'east', 'us-east'), ep('10.1.0.1', 'west', 'us-west')],
      'kubernetes.default.svc.cluster.local': [ep('10.0.0.9', 'east', 'us-east', 'grpc-443'), ep('10.1.0.9', 'west', 'us-west', 'grpc-443')],
    },
  );
  const resources = new MeshResources({
    discovery,
    domainSuffix: 'cluster.local',
    clusterLocalHosts: ['kubernetes.default.svc.cluster.local'],
  });
  return { discovery, resources };
}

const decode = (typeUrl: TypeUrl, r: GeneratedResource | undefined) => {
  assert.ok(r, 'resource generated');
  const any = protoType('google.protobuf.Any').decode(r.any) as unknown as { type_url: string; value: Uint8Array };
  assert.equal(any.type_url, typeUrl);
  return decodeMessage(typeUrl, any.value);
};

describe('MeshResources', () => {
  it('resolves listener names the way clients write targets', () => {
    const { resources } = setup();
    const names = ['echo:7070', 'echo.demo:7070', 'echo.demo.svc:7070', 'echo.demo.svc.cluster.local:7070', 'echo', 'multi', 'nope:1', 'echo:9999'];
    const got = resources.generate(TypeUrl.Listener, proxy(), new Set(names)).map((r) => r.name);
    // `multi` has two ports, so a bare name is ambiguous; unknown names and ports are left out.
    assert.deepEqual(got, ['echo:7070', 'echo.demo:7070', 'echo.demo.svc:7070', 'echo.demo.svc.cluster.local:7070', 'echo']);
  });

  it('builds an API listener whose RDS name is the listener name, with the fault filter before the router (gRFC A33)', () => {
    const { resources } = setup();
    const [l] = resources.generate(TypeUrl.Listener, proxy(), new Set(['echo.demo:7070']));
    const listener = decode(TypeUrl.Listener, l) as { name: string; api_listener: { api_listener: Record<string, unknown> } };
    assert.equal(listener.name, 'echo.demo:7070');
    const hcm = listener.api_listener.api_listener as { rds: { route_config_name: string }; http_filters: Array<{ name: string }> };
    assert.equal(hcm.rds.route_config_name, 'echo.demo:7070');
    assert.deepEqual(hcm.http_filters.map((f) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.router']);
  });

  it('routes every name of a service to its outbound cluster', () => {
    const { resources } = setup();
    const [r] = resources.generate(TypeUrl.Route, proxy(), new Set(['echo:7070']));
    const route = decode(TypeUrl.Route, r) as { virtual_hosts: Array<{ domains: string[]; routes: Array<{ route: { cluster: string } }> }> };
    const vh = route.virtual_hosts[0];
    assert.ok(vh);
    assert.ok(vh.domains.includes('echo:7070'));
    assert.ok(vh.domains.includes('echo.demo.svc.cluster.local:7070'));
    assert.equal(vh.routes[0]?.route.cluster, 'outbound|7070||echo.demo.svc.cluster.local');
  });

  it('serves clusters as EDS with the cluster name as service_name; wildcard lists every port', () => {
    const { resources } = setup();
    const all = resources.generate(TypeUrl.Cluster, proxy(), undefined).map((r) => r.name);
    assert.deepEqual(all.sort(), [
      'outbound|443||kubernetes.default.svc.cluster.local',
      'outbound|7070||echo.demo.svc.cluster.local',
      'outbound|80||multi.demo.svc.cluster.local',
      'outbound|81||multi.demo.svc.cluster.local',
    ]);
    const c = decode(TypeUrl.Cluster, resources.generate(TypeUrl.Cluster, proxy(), new Set(['outbound|7070||echo.demo.svc.cluster.local']))[0]) as {
      type: string;
      eds_cluster_config: { service_name: string };
    };
    assert.equal(c.type, 'EDS');
    assert.equal(c.eds_cluster_config.service_name, 'outbound|7070||echo.demo.svc.cluster.local');
  });

  it('answers every EDS name, even unknown ones, with an assignment of that name', () => {
    const { resources } = setup();
    const names = ['outbound|1||missing.demo.svc.cluster.local', 'garbage', 'outbound|80||multi.demo.svc.cluster.local'];
    const got = resources.generate(TypeUrl.Endpoint, proxy(), new Set(names));
    assert.deepEqual(got.map((r) => r.name), names);
    for (const r of got) {
      const cla = decode(TypeUrl.Endpoint, r) as { cluster_name: string; endpoints?: unknown[] };
      assert.equal(cla.cluster_name, r.name);
      assert.deepEqual(cla.endpoints ?? [], [], `${r.name} has no endpoints`);
    }
  });

  it('refuses subset names: no cluster, and an empty assignment under the subset name (not the whole service)', () => {
    const { resources } = setup();
    const subset = 'outbound|7070|v1|echo.demo.svc.cluster.local';
    for (const p of [proxy(), { ...proxy(), id: 'sidecar~10.0.0.5~a.demo~demo.svc.cluster.local', type: ProxyType.Sidecar }]) {
      assert.deepEqual(resources.generate(TypeUrl.Cluster, p, new Set([subset])), [], `${p.type}: no cluster for a subset`);
      const [cla] = resources.generate(TypeUrl.Endpoint, p, new Set([subset]));
      const body = decode(TypeUrl.Endpoint, cla) as { cluster_name: string; endpoints?: unknown[] };
      assert.equal(body.cluster_name, subset);
      assert.deepEqual(body.endpoints ?? [], [], `${p.type}: the subset gets none of the service's endpoints`);
    }
    // The whole service is still served under its own name.
    assert.equal(resources.generate(TypeUrl.Cluster, proxy(), new Set(['outbound|7070||echo.demo.svc.cluster.local'])).length, 1);
  });

  it('gives locality priorities from the proxy locality', () => {
    const { resources } = setup();
    const name = 'outbound|7070||echo.demo.svc.cluster.local';
    const cla = decode(TypeUrl.Endpoint, resources.generate(TypeUrl.Endpoint, proxy({ locality: { region: 'us-west', zone: '', subzone: '' } }), new Set([name]))[0]) as {
      endpoints: Array<{ locality: { region: string }; priority?: number; load_balancing_weight: { value: number } }>;
    };
    assert.deepEqual(cla.endpoints.map((e) => [e.locality.region, e.priority ?? 0, e.load_balancing_weight.value]), [
      ['us-west', 0, 1],
      ['us-east', 1, 1],
    ]);
  });

  it('limits cluster-local hosts to the proxy own cluster', () => {
    const { resources } = setup();
    const name = 'outbound|443||kubernetes.default.svc.cluster.local';
    for (const cluster of ['east', 'west']) {
      const cla = decode(TypeUrl.Endpoint, resources.generate(TypeUrl.Endpoint, proxy({ cluster }), new Set([name]))[0]) as {
        endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string } } } }> }>;
      };
      const addresses = cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address));
      assert.deepEqual(addresses, [cluster === 'east' ? '10.0.0.9' : '10.1.0.9']);
    }
  });

  it('serializes once per view and reuses the bytes; invalidation drops only what changed', () => {
    const { resources, discovery } = setup();
    const name = 'outbound|7070||echo.demo.svc.cluster.local';
    const gen = (p: ProxyNode) => resources.generate(TypeUrl.Endpoint, p, new Set([name]))[0];
    const a1 = gen(proxy({ id: 'a' }));
    const a2 = gen(proxy({ id: 'b' }));
    assert.equal(a1?.any, a2?.any, 'same view: the very same buffer');
    const other = gen(proxy({ locality: { region: 'us-west', zone: '', subzone: '' } }));
    assert.notEqual(other?.version, a1?.version, 'another locality is another view');
    const cluster1 = resources.generate(TypeUrl.Cluster, proxy(), new Set([name]))[0];

    discovery.eps['echo.demo.svc.cluster.local'] = [ep('10.0.0.2', 'east', 'us-east')];
    resources.invalidate({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, ['echo.demo.svc.cluster.local']), reasons: [] });
    const a3 = gen(proxy());
    assert.notEqual(a3?.version, a1?.version);
    assert.equal(resources.generate(TypeUrl.Cluster, proxy(), new Set([name]))[0]?.any, cluster1?.any, 'CDS kept its cached bytes');
  });

  it('versions are content hashes: a second instance (another replica) gives the same ones', () => {
    const one = setup().resources.generate(TypeUrl.Cluster, proxy(), undefined);
    const two = setup().resources.generate(TypeUrl.Cluster, proxy(), undefined);
    assert.deepEqual(one.map((r) => r.version), two.map((r) => r.version));
  });

  it('affects(): endpoint changes touch only EDS resources of the changed hostnames', () => {
    const { resources } = setup();
    const change = { kind: 'endpoints' as const, configs: hostnameKeys(ConfigKind.Endpoints, ['echo.demo.svc.cluster.local']), reasons: [] };
    assert.equal(resources.affects(change, TypeUrl.Endpoint, proxy(), 'outbound|7070||echo.demo.svc.cluster.local'), true);
    assert.equal(resources.affects(change, TypeUrl.Endpoint, proxy(), 'outbound|80||multi.demo.svc.cluster.local'), false);
    assert.equal(resources.affects(change, TypeUrl.Cluster, proxy(), 'outbound|7070||echo.demo.svc.cluster.local'), false);
    const svcChange = { kind: 'full' as const, configs: hostnameKeys(ConfigKind.Service, ['echo.demo.svc.cluster.local']), reasons: [] };
    assert.equal(resources.affects(svcChange, TypeUrl.Listener, proxy(), 'echo:7070'), true);
  });

  it('EDS end to end: gateway substitution by proxy network, stale demotion, and a gateway change', () => {
    const { resources, discovery } = setup();
    const hostname = 'echo.demo.svc.cluster.local';
    const name = `outbound|7070||${hostname}`;
    discovery.eps[hostname] = [
      ep('10.0.0.1', 'east', 'us-east'),
      { ...ep('10.0.0.2', 'east', 'us-east'), cluster: 'east-2', stale: true },
      ep('10.1.0.1', 'west', 'us-west'),
      ep('10.1.0.2', 'west', 'us-west'),
    ];
    discovery.gateways = [
      { network: 'west', address: '192.0.2.10', port: 15443, source: 'config' },
      { network: 'east', address: '192.0.2.20', port: 15443, source: 'config' },
    ];
    resources.invalidate({ kind: 'full', configs: [], reasons: ['gateways'] });
    type Cla = {
      endpoints: Array<{
        locality: { region: string };
        priority?: number;
        load_balancing_weight: { value: number };
        lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } }; health_status: string; load_balancing_weight: { value: number } }>;
      }>;
    };
    const eds = (p: ProxyNode) => {
      const cla = decode(TypeUrl.Endpoint, resources.generate(TypeUrl.Endpoint, p, new Set([name]))[0]) as Cla;
      return cla.endpoints.map((l) => [
        l.priority ?? 0,
        l.locality.region,
        l.load_balancing_weight.value,
        l.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value} ${e.health_status} ${e.load_balancing_weight.value}`),
      ]);
    };
    const eastProxy = proxy({ locality: { region: 'us-east', zone: '', subzone: '' } });
    assert.deepEqual(eds(eastProxy), [
      [0, 'us-east', 1, ['10.0.0.1:17070 HEALTHY 1']],
      [1, 'us-west', 2, ['192.0.2.10:15443 HEALTHY 2']],
      [2, 'us-east', 1, ['10.0.0.2:17070 HEALTHY 1']],
    ], 'east proxy: west behind its gateway, the stale east endpoint below every fresh one');
    const westProxy = proxy({ cluster: 'west', network: 'west', locality: { region: 'us-west', zone: '', subzone: '' } });
    assert.deepEqual(eds(westProxy), [
      [0, 'us-west', 2, ['10.1.0.1:17070 HEALTHY 1', '10.1.0.2:17070 HEALTHY 1']],
      [1, 'us-east', 1, ['192.0.2.20:15443 HEALTHY 1']],
    ], 'west proxy: east behind its gateway, listed once although a stale endpoint stands behind it too');

    // The explanation is the same computation, so it agrees with what EDS served.
    const [explained] = resources.explainEndpoints(eastProxy, hostname);
    assert.equal(explained?.clusterName, name);
    assert.deepEqual(
      explained?.selection.rows.filter((r) => r.sent).map((r) => `${r.address} p${r.priority ?? '-'} w${r.weight}`),
      ['10.0.0.1 p0 w1', '192.0.2.10 p1 w2', '10.0.0.2 p2 w1'],
    );
    assert.ok(explained?.selection.rows.some((r) => r.address === '10.1.0.1' && r.reason === 'other network west via gateway 192.0.2.10:15443 (weight 2)'));

    // West's gateway goes away: the discovery side sends a full push for everything.
    discovery.gateways = discovery.gateways.filter((g) => g.network !== 'west');
    resources.invalidate({ kind: 'full', configs: [], reasons: ['gateways'] });
    assert.deepEqual(
      eds(eastProxy),
      [
        [0, 'us-east', 1, ['10.0.0.1:17070 HEALTHY 1']],
        [1, 'us-east', 1, ['10.0.0.2:17070 HEALTHY 1']],
      ],
      'a network without a gateway contributes nothing; priorities renumbered',
    );
  });
});

describe('MeshResources memory bounds', () => {
  const unknownNames = (n: number, prefix = 'ghost') =>
    new Set(Array.from({ length: n }, (_, i) => `outbound|80||${prefix}-${i}.demo.svc.cluster.local`));

  it('answers every unknown EDS name (empty endpoints) without caching it, for proxyless and Envoy proxies', () => {
    const { resources } = setup();
    for (const p of [proxy(), proxy({ id: 'sidecar~10.0.0.5~a.demo~demo.svc.cluster.local', type: ProxyType.Sidecar })]) {
      for (let round = 0; round < 3; round++) {
        const names = unknownNames(10_000, `ghost${round}`);
        const out = resources.generate(TypeUrl.Endpoint, p, names);
        assert.equal(out.length, names.size, 'every name answered: gRPC clients wait forever for one left out');
        assert.deepEqual(decode(TypeUrl.Endpoint, out[0])['endpoints'] ?? [], []);
      }
    }
    assert.equal(resources.stats.entries, 0, 'nothing kept for names that do not exist');
    // A name of a port the service lacks is just as unknown.
    resources.generate(TypeUrl.Endpoint, proxy(), new Set(['outbound|9999||echo.demo.svc.cluster.local']));
    assert.equal(resources.stats.entries, 0);
  });

  it('keeps at most maxCacheEntries, evicting the oldest, however many views ask', () => {
    const discovery = new StaticDiscovery([svc('echo', 'demo', [7070])], { 'echo.demo.svc.cluster.local': [ep('10.0.0.1', 'east', 'us-east')] });
    const resources = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], maxCacheEntries: 100 });
    const name = new Set(['outbound|7070||echo.demo.svc.cluster.local']);
    // Every claimed locality is a view of its own.
    const first = resources.generate(TypeUrl.Endpoint, proxy({ locality: { region: 'r0', zone: '', subzone: '' } }), name)[0];
    for (let i = 1; i < 1000; i++) resources.generate(TypeUrl.Endpoint, proxy({ locality: { region: `r${i}`, zone: '', subzone: '' } }), name);
    assert.equal(resources.stats.entries, 100);
    const again = resources.generate(TypeUrl.Endpoint, proxy({ locality: { region: 'r0', zone: '', subzone: '' } }), name)[0];
    assert.equal(again?.version, first?.version, 'an evicted entry is rebuilt with the same content');
    // Invalidation still finds what is left (and forgets what was evicted).
    resources.invalidate({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, ['echo.demo.svc.cluster.local']), reasons: [] });
    assert.equal(resources.stats.entries, 0);
  });

  it('keeps at most a bounded number of shared answers between pushes, however many name sets are asked for', () => {
    const { resources } = setup();
    for (let i = 0; i < 20_000; i++) resources.generate(TypeUrl.Endpoint, proxy(), new Set([`outbound|80||m${i}.demo.svc.cluster.local`]));
    assert.ok(resources.stats.sharedAnswers <= MAX_SHARED_ANSWERS, `${resources.stats.sharedAnswers} shared answers`);
    resources.invalidate({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, ['echo.demo.svc.cluster.local']), reasons: [] });
    assert.equal(resources.stats.sharedAnswers, 0, 'a push drops them all');
  });
});
