import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// grpc-js-xds's own cluster validator: "a gRPC client accepts the logical DNS cluster" is checked, not assumed.
import { ClusterResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js';
import {
  ConfigKind,
  EMPTY_LOCALITY,
  EntryResolution,
  Health,
  ProxyType,
  type Endpoint,
  type EntryService,
  type MeshPolicies,
  type Service,
  type ServicePort,
} from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { MtlsMode } from './mtls.ts';
import { decodeMessage, protoType } from './protos.ts';
import type { GeneratedResource } from './resource-source.ts';
import { StaticDiscovery, testPolicies, testProxy, validateAnyBytes } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk decoded messages
type Json = Record<string, any>;

const ECHO = 'echo.demo.svc.cluster.local';
const port = (name: string, number: number, appProtocol: string): ServicePort => ({ name, port: number, protocol: 'TCP', appProtocol });
const endpoint = (address: string, p: ServicePort, extra: Partial<Endpoint> = {}): Endpoint => ({
  address,
  port: p.port,
  portName: p.name,
  cluster: '',
  network: '',
  locality: EMPTY_LOCALITY,
  health: Health.Healthy,
  ...extra,
});

function entry(hostname: string, resolution: EntryResolution, ports: ServicePort[], endpoints: Endpoint[], extra: Partial<Service> & { visibleIn?: string[]; external?: boolean } = {}): EntryService {
  const { visibleIn, external = true, ...rest } = extra;
  return {
    service: {
      hostname,
      name: hostname,
      namespace: 'egress',
      ports,
      clusters: [],
      addresses: {},
      serviceAccounts: [],
      entry: { source: `egress/${hostname}`, resolution, external, ...(visibleIn ? { visibleIn } : {}) },
      ...rest,
    },
    endpoints,
  };
}

const HTTPS = port('https', 443, 'tls');
const HTTP = port('http', 80, 'http');
const PG = port('tcp-pg', 5432, 'tcp');
const ENTRIES: EntryService[] = [
  entry('api.external.test', EntryResolution.Dns, [HTTPS], [endpoint('api.external.test', HTTPS)]),
  entry('db.external.test', EntryResolution.Static, [PG], [endpoint('192.0.2.10', PG)], { addresses: { '': ['192.0.2.0/24'] }, visibleIn: ['demo'] }),
  entry('legacy.external.test', EntryResolution.None, [HTTP], []),
  entry('web.external.test', EntryResolution.Dns, [HTTP], [endpoint('a.web.test', HTTP), endpoint('b.web.test', HTTP, { locality: { region: 'eu', zone: '', subzone: '' } })]),
  // A Kubernetes Service's name: the entry does not take it over.
  entry(ECHO, EntryResolution.Static, [HTTP], [endpoint('198.51.100.1', HTTP)]),
];

const policies: MeshPolicies = testPolicies({ peerAuthentications: { modeFor: () => ({ mode: 'STRICT' }) }, serviceEntries: ENTRIES });

const ECHO_HTTP = port('http', 8080, 'http');
const echo: Service = { hostname: ECHO, name: 'echo', namespace: 'demo', ports: [ECHO_HTTP], clusters: ['east'], addresses: { east: ['10.96.0.10'] }, serviceAccounts: ['echo'] };
const discovery = new StaticDiscovery([echo], { [ECHO]: [endpoint('10.0.0.5', ECHO_HTTP, { cluster: 'east', network: 'east', serviceAccount: 'echo' })] });

function resources(): MeshResources {
  return new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], mtls: { mode: MtlsMode.Strict, trustDomain: 'mesh.test' }, policies: () => policies });
}

const sidecar = (namespace: string) => testProxy({ id: `sidecar~10.0.0.9~x.${namespace}~${namespace}.svc.cluster.local`, type: ProxyType.Sidecar, namespace });
const grpc = testProxy({ namespace: 'demo' });

function decoded(typeUrl: TypeUrl, r: GeneratedResource): Json {
  const any = protoType('google.protobuf.Any').decode(r.any) as unknown as { value: Uint8Array };
  return decodeMessage(typeUrl, any.value) as Json;
}

function byName(list: readonly GeneratedResource[], typeUrl: TypeUrl): Map<string, Json> {
  for (const r of list) {
    const verdict = validateAnyBytes(r.any);
    assert.deepEqual(verdict.ok ? [] : verdict.errors, [], `${r.name} passes Envoy's validation rules`);
  }
  return new Map(list.map((r) => [r.name, decoded(typeUrl, r)]));
}

describe('ServiceEntries in what clients are sent', () => {
  it('a sidecar gets a cluster per entry port as its resolution says, without mTLS toward hosts outside the mesh', () => {
    const clusters = byName(resources().generate(TypeUrl.Cluster, sidecar('demo'), undefined), TypeUrl.Cluster);
    const api = clusters.get('outbound|443||api.external.test');
    assert.equal(api?.['type'], 'STRICT_DNS');
    assert.equal(api?.['dns_lookup_family'], 'V4_PREFERRED');
    assert.deepEqual(api?.['load_assignment']['endpoints'][0]['lb_endpoints'][0]['endpoint']['address']['socket_address'], { address: 'api.external.test', port_value: 443 });
    assert.equal(api?.['transport_socket'], undefined, 'no mesh mTLS toward MESH_EXTERNAL, though the mesh is strict');
    assert.ok(clusters.get(`outbound|8080||${ECHO}`)?.['transport_socket'], 'the mesh service keeps mTLS');

    const legacy = clusters.get('outbound|80||legacy.external.test');
    assert.equal(legacy?.['type'], 'ORIGINAL_DST');
    assert.equal(legacy?.['lb_policy'], 'CLUSTER_PROVIDED');

    const web = clusters.get('outbound|80||web.external.test');
    const groups = (web?.['load_assignment']['endpoints'] as Json[]).map((g) => [g['locality']?.['region'] ?? '', g['lb_endpoints'].map((e: Json) => e['endpoint']['address']['socket_address']['address'])]);
    assert.deepEqual(groups, [['', ['a.web.test']], ['eu', ['b.web.test']]], 'every name of a DNS entry, grouped by locality');

    assert.equal(clusters.get('outbound|5432||db.external.test')?.['type'], 'EDS', 'a STATIC entry is sent over EDS');
    assert.ok(!clusters.has(`outbound|80||${ECHO}`), "a Kubernetes Service's name is not taken over by an entry");
  });

  it("a STATIC entry's endpoints come over EDS, its CIDR picks its TCP chain, a TLS host is picked by SNI", () => {
    const r = resources();
    const [assignment] = r.generate(TypeUrl.Endpoint, sidecar('demo'), new Set(['outbound|5432||db.external.test']));
    assert.ok(assignment);
    const sent = decoded(TypeUrl.Endpoint, assignment)['endpoints'].flatMap((g: Json) => g['lb_endpoints'].map((e: Json) => e['endpoint']['address']['socket_address']));
    assert.deepEqual(sent, [{ address: '192.0.2.10', port_value: 5432 }]);

    const listeners = byName(r.generate(TypeUrl.Listener, sidecar('demo'), undefined), TypeUrl.Listener);
    const pg = listeners.get('0.0.0.0_5432')?.['filter_chains'].find((c: Json) => c['name'] === 'outbound|5432||db.external.test');
    assert.deepEqual(pg?.['filter_chain_match']['prefix_ranges'], [{ address_prefix: '192.0.2.0', prefix_len: { value: 24 } }]);
    const tls = listeners.get('0.0.0.0_443');
    assert.deepEqual(tls?.['listener_filters'].map((f: Json) => f['name']), ['envoy.filters.listener.tls_inspector']);
    const chain = tls?.['filter_chains'].find((c: Json) => c['name'] === 'outbound|443||api.external.test');
    assert.deepEqual(chain?.['filter_chain_match'], { server_names: ['api.external.test'], transport_protocol: 'tls' });

    const [routes] = r.generate(TypeUrl.Route, sidecar('demo'), new Set(['80']));
    assert.ok(routes);
    const hosts = decoded(TypeUrl.Route, routes)['virtual_hosts'].map((v: Json) => v['domains'][0]);
    assert.deepEqual(hosts, ['legacy.external.test', 'web.external.test', '*'], 'HTTP entries are routed by Host');
  });

  it("exportTo hides an entry from other namespaces' proxies", () => {
    const r = resources();
    const names = (ns: string) => r.generate(TypeUrl.Cluster, sidecar(ns), undefined).map((c) => c.name);
    assert.ok(names('demo').includes('outbound|5432||db.external.test'));
    assert.ok(!names('shop').includes('outbound|5432||db.external.test'));
    assert.ok(names('shop').includes('outbound|443||api.external.test'));
    const listeners = r.generate(TypeUrl.Listener, sidecar('shop'), undefined).map((l) => l.name);
    assert.ok(!listeners.includes('0.0.0.0_5432'), 'no port listener for a port only hidden services use');
  });

  it('a gRPC client gets a logical DNS cluster it accepts, and nothing for entries it cannot call', () => {
    const r = resources();
    const [api] = r.generate(TypeUrl.Cluster, grpc, new Set(['outbound|443||api.external.test']));
    assert.ok(api);
    const any = protoType('google.protobuf.Any').decode(api.any) as unknown as { type_url: string; value: Uint8Array };
    const verdict = ClusterResourceType.get().decode({ server: {}, bootstrap: {} } as never, { type_url: any.type_url, value: Buffer.from(any.value) });
    assert.equal(verdict.error, undefined, 'grpc-js-xds accepts it');
    assert.equal((verdict.value as Json)['type'], 'LOGICAL_DNS');
    assert.equal((verdict.value as Json)['dnsHostname'], 'api.external.test:443');

    const wildcard = r.generate(TypeUrl.Cluster, grpc, undefined).map((c) => c.name);
    assert.ok(wildcard.includes('outbound|443||api.external.test'));
    assert.ok(!wildcard.includes('outbound|80||legacy.external.test'), 'NONE: nowhere for gRPC to send a call');
    assert.ok(!wildcard.includes('outbound|80||web.external.test'), 'DNS with two names: gRPC resolves one');
    assert.deepEqual(r.generate(TypeUrl.Listener, grpc, new Set(['legacy.external.test:80'])), [], 'asked for by name, still not sent');
    assert.equal(r.generate(TypeUrl.Listener, grpc, new Set(['api.external.test:443'])).length, 1);
  });

  it('a ServiceEntry change reaches every type, as a full push', () => {
    const r = resources();
    const change = { kind: 'full' as const, configs: [{ kind: ConfigKind.ServiceEntry, namespace: 'egress', name: 'api' }], reasons: [] };
    for (const typeUrl of [TypeUrl.Listener, TypeUrl.Route, TypeUrl.Cluster, TypeUrl.Endpoint]) {
      assert.equal(r.affects(change, typeUrl, sidecar('demo'), undefined), true, typeUrl);
    }
  });
});

describe('a ServiceEntry selecting workloads', () => {
  const API = 'api.internal.test';
  const POD_PORT = port('http', 8080, 'http');
  const v1: Service = { hostname: 'api-v1.demo.svc.cluster.local', name: 'api-v1', namespace: 'demo', ports: [POD_PORT], clusters: ['east'], addresses: { east: ['10.96.0.7'] }, serviceAccounts: ['api'] };
  const pod = (address: string, labels: Record<string, string>, cluster = 'east') => endpoint(address, POD_PORT, { cluster, network: cluster, serviceAccount: 'api', labels });
  const selecting: EntryService = {
    ...entry(API, EntryResolution.Static, [port('http', 80, 'http')], [], { external: false, namespace: 'demo' }),
    workloadSelector: { labels: { app: 'api' }, targetPorts: new Map([['http', 8080]]) },
  };
  const EDS_NAME = `outbound|80||${API}`;

  function setup() {
    const registry = new StaticDiscovery([v1], { [v1.hostname]: [pod('10.0.0.7', { app: 'api', version: 'v1' }), pod('10.0.0.8', { app: 'web' })] });
    const r = new MeshResources({
      discovery: registry,
      domainSuffix: 'cluster.local',
      clusterLocalHosts: [],
      mtls: { mode: MtlsMode.Strict, trustDomain: 'mesh.test' },
      policies: () => ({ ...policies, serviceEntries: [selecting] }),
    });
    return { registry, r };
  }
  const sent = (r: MeshResources) => {
    const [assignment] = r.generate(TypeUrl.Endpoint, sidecar('demo'), new Set([EDS_NAME]));
    assert.ok(assignment);
    return decoded(TypeUrl.Endpoint, assignment)['endpoints'].flatMap((g: Json) => g['lb_endpoints'].map((e: Json) => `${e['endpoint']['address']['socket_address']['address']}:${e['endpoint']['address']['socket_address']['port_value']}`));
  };

  it("its endpoints are the namespace's workloads with the labels, on the target port; mTLS expects their identities", () => {
    const { r } = setup();
    assert.deepEqual(sent(r), ['10.0.0.7:8080']);
    const clusters = byName(r.generate(TypeUrl.Cluster, sidecar('demo'), new Set([EDS_NAME])), TypeUrl.Cluster);
    const sans = JSON.stringify(clusters.get(EDS_NAME)?.['transport_socket']);
    assert.match(sans, /spiffe:\/\/mesh\.test\/ns\/demo\/sa\/api/, 'MESH_INTERNAL: the selected workloads’ identity');
  });

  it('follows the selected workloads: a pod that gains the labels is pushed, though the change named another service', () => {
    const { registry, r } = setup();
    assert.deepEqual(sent(r), ['10.0.0.7:8080']);
    registry.eps[v1.hostname] = [pod('10.0.0.7', { app: 'api' }), pod('10.0.0.8', { app: 'api' }), pod('10.1.0.9', { app: 'api' }, 'west')];
    const change = { kind: 'endpoints' as const, configs: [{ kind: ConfigKind.Endpoints, namespace: 'demo', name: v1.hostname }], reasons: [] };
    // The push as proxies are asked about it names the entry too (and survives merging, as a key).
    const pushed = r.invalidate(change);
    assert.deepEqual(pushed.configs.map((k) => k.name), [v1.hostname, API]);
    assert.equal(r.affects(pushed, TypeUrl.Endpoint, sidecar('demo'), EDS_NAME), true);
    assert.deepEqual(sent(r).sort(), ['10.0.0.7:8080', '10.0.0.8:8080', '10.1.0.9:8080']);
  });
});
