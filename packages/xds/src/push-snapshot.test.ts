import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigKind,
  EMPTY_LOCALITY,
  Health,
  hostnameKeys,
  ProxyType,
  type Endpoint,
  type MeshPolicies,
  type NetworkGateway,
  type PushRequest,
  type Service,
  type ServiceDiscovery,
} from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { PushSnapshot } from './push-snapshot.ts';
import { StaticDiscovery, testProxy } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

const svc = (name: string, port: number, clusters = ['east', 'west']): Service => ({
  hostname: `${name}.demo.svc.cluster.local`,
  name,
  namespace: 'demo',
  ports: [{ name: 'grpc', port, protocol: 'TCP' }],
  clusters,
  addresses: { east: [`10.96.0.${port % 250}`] },
  serviceAccounts: [],
});
const ep = (address: string, cluster: string): Endpoint => ({
  address,
  port: 17070,
  portName: 'grpc',
  cluster,
  network: cluster,
  locality: EMPTY_LOCALITY,
  health: Health.Healthy,
});
const ECHO = 'echo.demo.svc.cluster.local';
const HELLO = 'hello.demo.svc.cluster.local';

/** A recording fake of the ServiceDiscovery port: counts every call made to it. */
class CountingDiscovery implements ServiceDiscovery {
  calls = 0;
  readonly inner: StaticDiscovery;

  constructor(inner: StaticDiscovery) {
    this.inner = inner;
  }

  services(): readonly Service[] {
    this.calls++;
    return this.inner.services();
  }
  service(hostname: string): Service | undefined {
    this.calls++;
    return this.inner.service(hostname);
  }
  endpoints(hostname: string): readonly Endpoint[] {
    this.calls++;
    return this.inner.endpoints(hostname);
  }
  clusterIds(): readonly string[] {
    this.calls++;
    return this.inner.clusterIds();
  }
  networkGateways(network: string): readonly NetworkGateway[] {
    this.calls++;
    return this.inner.networkGateways(network);
  }
  allNetworkGateways(): readonly NetworkGateway[] {
    this.calls++;
    return this.inner.allNetworkGateways();
  }
}

const endpointsPush = (...hostnames: string[]): PushRequest => ({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, hostnames), reasons: [] });

function mesh() {
  const inner = new StaticDiscovery([svc('echo', 7070), svc('hello', 8080)], {
    [ECHO]: [ep('10.0.0.1', 'east'), ep('10.1.0.1', 'west')],
    [HELLO]: [ep('10.0.0.2', 'east')],
  });
  inner.gateways = [{ network: 'west', address: '192.0.2.10', port: 15443, source: 'config' }];
  const discovery = new CountingDiscovery(inner);
  const resources = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [] });
  return { inner, discovery, resources };
}

describe('PushSnapshot', () => {
  it('generation reads only the snapshot: no registry call while building, for any proxy kind', () => {
    const { discovery, resources } = mesh();
    resources.invalidate(endpointsPush(ECHO));
    discovery.calls = 0;
    const proxies = [
      testProxy(),
      testProxy({ id: 'sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local', type: ProxyType.Sidecar, ipAddresses: ['10.0.0.1'] }),
      testProxy({ id: 'gw', type: ProxyType.Router, cluster: 'west', network: 'west', labels: { istio: 'eastwestgateway' } }),
    ];
    for (const proxy of proxies) {
      for (const typeUrl of [TypeUrl.Listener, TypeUrl.Cluster]) resources.generate(typeUrl, proxy, undefined);
      resources.generate(TypeUrl.Endpoint, proxy, new Set([`outbound|7070||${ECHO}`, `outbound_.8080_._.${HELLO}`]));
      resources.generate(TypeUrl.Listener, proxy, new Set([`${ECHO}:7070`]));
      resources.generate(TypeUrl.Route, proxy, new Set([`${ECHO}:7070`, '7070']));
    }
    resources.explainEndpoints(proxies[0] ?? testProxy(), ECHO);
    assert.equal(discovery.calls, 0, 'every answer came from the snapshot');
  });

  it('a change is served once a push names it; the push re-reads the endpoints of what it names only', () => {
    const { inner, resources } = mesh();
    const addresses = (hostname: string, port: number) =>
      JSON.stringify(resources.generate(TypeUrl.Endpoint, testProxy(), new Set([`outbound|${port}||${hostname}`]))[0]?.any);
    const echoBefore = addresses(ECHO, 7070);
    const helloBefore = addresses(HELLO, 8080);
    inner.eps[ECHO] = [ep('10.0.0.9', 'east')];
    inner.eps[HELLO] = [ep('10.0.0.8', 'east')];
    assert.equal(addresses(ECHO, 7070), echoBefore, 'not pushed yet: the snapshot still has the old endpoints');
    resources.invalidate(endpointsPush(ECHO));
    assert.notEqual(addresses(ECHO, 7070), echoBefore);
    assert.equal(addresses(HELLO, 8080), helloBefore, 'hello was not named: the registry owes a push for it');
    resources.invalidate(endpointsPush(HELLO));
    assert.notEqual(addresses(HELLO, 8080), helloBefore);
  });

  it('a snapshot never changes: the one a push replaced keeps answering as it did', () => {
    const { inner } = mesh();
    const options = { discovery: inner, domainSuffix: 'cluster.local', clusterLocalHosts: [] };
    const first = PushSnapshot.next(options, undefined, undefined);
    inner.eps[ECHO] = [ep('10.0.0.9', 'east')];
    inner.svcs = [...inner.svcs, svc('third', 9090)];
    inner.gateways = [];
    const second = PushSnapshot.next(options, first, { kind: 'full', configs: hostnameKeys(ConfigKind.Service, ['third.demo.svc.cluster.local', ECHO]), reasons: [] });
    assert.deepEqual(first.endpoints(ECHO).map((e) => e.address), ['10.0.0.1', '10.1.0.1']);
    assert.equal(first.services.length, 2);
    assert.equal(first.gateways('west').length, 1);
    assert.deepEqual(second.endpoints(ECHO).map((e) => e.address), ['10.0.0.9']);
    assert.equal(second.services.length, 3);
    assert.equal(second.gateways('west').length, 0, 'gateways are read again by every push');
    assert.ok(second.version > first.version);
  });

  it('a policy change re-reads the policy slot; a traffic policy reaches routes, clusters and assignments, never listeners; a security policy reaches listeners and clusters only', () => {
    const { inner } = mesh();
    let version = 1;
    const policies = () => ({ traffic: { version } }) as unknown as MeshPolicies;
    const resources = new MeshResources({ discovery: inner, domainSuffix: 'cluster.local', clusterLocalHosts: [], policies });
    assert.deepEqual(resources.snap().policies, { traffic: { version: 1 } });
    version = 2;
    const traffic: PushRequest = { kind: 'full', configs: [{ kind: ConfigKind.DestinationRule, namespace: 'demo', name: 'echo' }], reasons: [] };
    const security: PushRequest = { kind: 'full', configs: [{ kind: ConfigKind.PeerAuthentication, namespace: 'demo', name: 'strict' }], reasons: [] };
    const sidecar = testProxy({ id: 'sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local', type: ProxyType.Sidecar, ipAddresses: ['10.0.0.1'] });
    for (const proxy of [testProxy(), sidecar]) {
      assert.equal(resources.affects(traffic, TypeUrl.Listener, proxy, undefined), false, `${proxy.type} LDS`);
      for (const typeUrl of [TypeUrl.Route, TypeUrl.Cluster, TypeUrl.Endpoint]) {
        assert.equal(resources.affects(traffic, typeUrl, proxy, undefined), true, `${proxy.type} ${typeUrl}`);
      }
      // A subset's endpoints and any assignment's locality priorities follow the DestinationRule.
      assert.equal(resources.affects(traffic, TypeUrl.Endpoint, proxy, `outbound|7070||${ECHO}`), true);
      assert.equal(resources.affects(traffic, TypeUrl.Endpoint, proxy, `outbound|7070|v1|${ECHO}`), true);
      // Inbound listeners carry the mTLS mode and RBAC; clusters whether to speak mTLS.
      for (const typeUrl of [TypeUrl.Listener, TypeUrl.Cluster]) {
        assert.equal(resources.affects(security, typeUrl, proxy, undefined), true, `security policy: ${proxy.type} ${typeUrl}`);
      }
      assert.equal(resources.affects(security, TypeUrl.Endpoint, proxy, undefined), false, `security policy: ${proxy.type} EDS`);
      assert.equal(resources.affects(security, TypeUrl.Route, proxy, '7070'), false, `security policy: ${proxy.type} an outbound route`);
      assert.equal(resources.affects(security, TypeUrl.Listener, proxy, `${ECHO}:7070`), false, 'an API listener does not carry it');
      if (proxy === sidecar) assert.equal(resources.affects(security, TypeUrl.Route, proxy, 'inbound|17070||'), true, 'the inbound route carries the RBAC rules');
    }
    resources.invalidate(traffic);
    assert.deepEqual(resources.snap().policies, { traffic: { version: 2 } });
  });

  it('the workload-port index built from the previous one holds what one built from scratch does', () => {
    const { inner } = mesh();
    const options = { discovery: inner, domainSuffix: 'cluster.local', clusterLocalHosts: [] };
    let snapshot = PushSnapshot.next(options, undefined, undefined);
    snapshot.workloadPorts();
    const moves: Array<[string, Endpoint[]]> = [
      [ECHO, [ep('10.0.0.2', 'east')]],
      [HELLO, [ep('10.0.0.1', 'east'), ep('10.0.0.2', 'east')]],
      [ECHO, []],
      [HELLO, [ep('10.1.0.1', 'west')]],
    ];
    for (const [hostname, endpoints] of moves) {
      inner.eps[hostname] = endpoints;
      snapshot = PushSnapshot.next(options, snapshot, endpointsPush(hostname));
      const fresh = PushSnapshot.next(options, undefined, undefined);
      for (const [cluster, address] of [['east', '10.0.0.1'], ['east', '10.0.0.2'], ['west', '10.1.0.1']] as const) {
        const names = (s: PushSnapshot) => s.workloadPorts().at(cluster, address).map((w) => w.service.hostname).sort();
        assert.deepEqual(names(snapshot), names(fresh), `${cluster} ${address} after ${hostname} moved`);
      }
    }
  });
});
