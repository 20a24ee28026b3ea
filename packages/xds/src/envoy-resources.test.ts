import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { configDump, decodeResource, edsNamesOf, routeNamesOf } from './config-dump.ts';
import { trafficProtocol, TrafficProtocol } from './envoy-resources.ts';
import { sniName } from './resource-names.ts';
import { MeshResources } from './mesh-resources.ts';
import { MtlsMode, type MtlsOptions } from './mtls.ts';
import { validateAnyBytes } from './testing/index.ts';
import { proxyFromNode } from './proxy.ts';
import type { GeneratedResource } from './resource-source.ts';
import { SECRET_TYPE_URL, secretResources, type WorkloadCertificate } from './sds.ts';
import { TypeUrl } from './type-url.ts';
import { StaticDiscovery } from './testing/index.ts';


const ECHO = 'echo.demo.svc.cluster.local';
const EAST = { region: 'us-east', zone: 'us-east-1a', subzone: '' };
const WEST = { region: 'us-west', zone: 'us-west-1a', subzone: '' };

const echo: Service = {
  hostname: ECHO,
  name: 'echo',
  namespace: 'demo',
  ports: [
    { name: 'grpc', port: 7070, targetPort: 17070, protocol: 'TCP', appProtocol: 'grpc' },
    { name: 'tcp', port: 9090, targetPort: 19090, protocol: 'TCP' },
  ],
  clusters: ['east', 'west'],
  addresses: { east: ['10.96.0.10'], west: ['10.97.0.10'] },
  serviceAccounts: ['echo'],
};

const endpoints = (address: string, cluster: 'east' | 'west'): Endpoint[] =>
  [
    ['grpc', 17070],
    ['tcp', 19090],
  ].map(([portName, port]) => ({
    address,
    port: Number(port),
    portName: String(portName),
    cluster,
    network: cluster,
    locality: cluster === 'east' ? EAST : WEST,
    health: Health.Healthy,
    serviceAccount: 'echo',
    pod: `demo/echo-${address}`,
  }));

/** A small two-cluster, two-network mesh: echo in both, one gRPC and one TCP port, strict mTLS. */
function mesh(options: { mtls: boolean } = { mtls: true }) {
  const mtls: MtlsOptions | undefined = options.mtls ? { mode: MtlsMode.Strict, trustDomain: 'cluster.local' } : undefined;
  const discovery = new StaticDiscovery([echo], {
    [ECHO]: [...endpoints('10.0.0.1', 'east'), ...endpoints('10.0.0.2', 'east'), ...endpoints('10.1.0.1', 'west')],
  });
  discovery.gateways = [
    { network: 'east', address: '192.0.2.20', port: 15443, source: 'config' },
    { network: 'west', address: '192.0.2.10', port: 15443, source: 'config' },
  ];
  const resources = new MeshResources({
    discovery,
    domainSuffix: 'cluster.local',
    clusterLocalHosts: [],
    ...(mtls ? { mtls } : {}),
  });
  return { discovery, resources };
}

/** What a connection that proved this proxy's service account is served over SDS (`connectionSource`). */
async function secretsOf(proxy: ProxyNode): Promise<GeneratedResource[]> {
  const cert: WorkloadCertificate | undefined =
    proxy.serviceAccount === undefined
      ? undefined
      : { certChainPem: `TEST CHAIN for ${proxy.namespace}/${proxy.serviceAccount}\n`, keyPem: 'TEST KEY (not a real key)\n' };
  return secretResources(cert, 'TEST ROOTS\n');
}

const defaults = { cluster: 'east', networkOf: (c: string) => c };
const sidecar: ProxyNode = proxyFromNode(
  {
    id: 'sidecar~10.0.0.1~echo-east-1.demo~demo.svc.cluster.local',
    locality: { region: EAST.region, zone: EAST.zone },
    metadata: { CLUSTER_ID: 'east', NETWORK: 'east', SERVICE_ACCOUNT: 'echo', LABELS: { app: 'echo' } },
  },
  defaults,
);
const gateway: ProxyNode = proxyFromNode(
  {
    id: 'router~192.0.2.10~istio-eastwestgateway-1.istio-system~istio-system.svc.cluster.local',
    locality: { region: WEST.region, zone: WEST.zone },
    metadata: { CLUSTER_ID: 'west', NETWORK: 'west', LABELS: { istio: 'eastwestgateway' } },
  },
  defaults,
);

interface Snapshot {
  readonly listeners: GeneratedResource[];
  readonly routes: GeneratedResource[];
  readonly clusters: GeneratedResource[];
  readonly endpoints: GeneratedResource[];
  readonly secrets: GeneratedResource[];
}

/** What an Envoy gets: LDS and CDS by wildcard, then the RDS and EDS names they refer to. */
async function snapshot(resources: MeshResources, proxy: ProxyNode): Promise<Snapshot> {
  const listeners = resources.generate(TypeUrl.Listener, proxy, undefined);
  const clusters = resources.generate(TypeUrl.Cluster, proxy, undefined);
  const routes = resources.generate(TypeUrl.Route, proxy, new Set(routeNamesOf(listeners.map(decodeResource))));
  const endpoints = resources.generate(TypeUrl.Endpoint, proxy, new Set(edsNamesOf(clusters.map(decodeResource))));
  return { listeners, routes, clusters, endpoints, secrets: await secretsOf(proxy) };
}

function asJson(snap: Snapshot, proxy: ProxyNode): object {
  const decode = (rs: GeneratedResource[]) => rs.map(decodeResource);
  return {
    node: proxy.id,
    listeners: decode(snap.listeners),
    routes: decode(snap.routes),
    clusters: decode(snap.clusters),
    endpoints: decode(snap.endpoints),
    secrets: decode(snap.secrets),
  };
}

function compareGolden(file: string, actual: object): void {
  const url = new URL(`./testdata/${file}`, import.meta.url);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(url)) {
    mkdirSync(new URL('./testdata/', import.meta.url), { recursive: true });
    writeFileSync(url, text);
    if (process.env['UPDATE_GOLDEN'] !== '1') assert.fail(`${file} was missing and has been written: review it, then run again`);
    return;
  }
  assert.deepEqual(actual, JSON.parse(readFileSync(url, 'utf8')), `${file} differs (UPDATE_GOLDEN=1 refreshes it)`);
}

/** virtualInbound's filter chains: name, match and whether they terminate TLS. */
function inboundChains(snap: Snapshot): Array<{ name: string; match: unknown; tls: boolean }> {
  const inbound = snap.listeners.find((l) => l.name === 'virtualInbound');
  const chains = (inbound ? decodeResource(inbound)['filter_chains'] : []) as Array<{ name: string; filter_chain_match?: unknown; transport_socket?: unknown }>;
  return chains.map((c) => ({ name: c.name, match: c.filter_chain_match, tls: c.transport_socket !== undefined }));
}

/** Every resource through the validator built from Envoy's own validate.rules. */
function assertValid(snap: Snapshot): void {
  for (const r of [...snap.listeners, ...snap.routes, ...snap.clusters, ...snap.endpoints, ...snap.secrets]) {
    const result = validateAnyBytes(r.any);
    assert.deepEqual(result.ok ? [] : result.errors, [], r.name);
  }
}

/** go-control-plane's Consistent(), extended to what listeners and routes name. */
function assertConsistent(snap: Snapshot): void {
  const clusterNames = new Set(snap.clusters.map((c) => c.name));
  const referenced = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o['cluster'] === 'string') referenced.add(o['cluster']);
    Object.values(o).forEach(visit);
  };
  [...snap.listeners, ...snap.routes].map(decodeResource).forEach(visit);
  for (const name of referenced) assert.ok(clusterNames.has(name), `${name} is referenced but not in CDS`);
  const routeNames = new Set(snap.routes.map((r) => r.name));
  for (const name of routeNamesOf(snap.listeners.map(decodeResource))) assert.ok(routeNames.has(name), `RDS ${name} not generated`);
  const edsNames = new Set(snap.endpoints.map((e) => e.name));
  for (const name of edsNamesOf(snap.clusters.map(decodeResource))) assert.ok(edsNames.has(name), `EDS ${name} not generated`);
}

describe('Envoy sidecar resources', () => {
  it('golden: everything a sidecar in east gets (strict mTLS, two clusters, two networks)', async () => {
    const { resources } = mesh();
    const snap = await snapshot(resources, sidecar);
    assertValid(snap);
    assertConsistent(snap);
    compareGolden('sidecar-east.golden.json', asJson(snap, sidecar));
  });

  it("golden: west's east-west gateway (SNI passthrough to local endpoints)", async () => {
    const { resources } = mesh();
    const snap = await snapshot(resources, gateway);
    assertValid(snap);
    assertConsistent(snap);
    compareGolden('eastwest-gateway-west.golden.json', asJson(snap, gateway));
  });

  it('names: Istio node id parsing gives a sidecar; clusters, listeners and routes as Istio names them', async () => {
    assert.equal(sidecar.type, ProxyType.Sidecar);
    assert.deepEqual(sidecar.ipAddresses, ['10.0.0.1']);
    const snap = await snapshot(mesh().resources, sidecar);
    assert.deepEqual(snap.listeners.map((l) => l.name), ['virtualOutbound', '0.0.0.0_7070', '0.0.0.0_9090', 'virtualInbound']);
    assert.deepEqual(snap.clusters.map((c) => c.name), [
      'PassthroughCluster',
      'InboundPassthroughCluster',
      'BlackHoleCluster',
      `outbound|7070||${ECHO}`,
      `outbound|9090||${ECHO}`,
      'inbound|17070||',
      'inbound|19090||',
    ]);
    assert.deepEqual(snap.routes.map((r) => r.name), ['7070', 'inbound|17070||']);
    assert.deepEqual(snap.secrets.map((s) => s.name), ['default', 'ROOTCA']);
  });

  it('EDS: same selection as gRPC, plus the overprovisioning policy; cache views differ by proxy type', () => {
    const { resources } = mesh();
    const name = `outbound|7070||${ECHO}`;
    const grpcProxy: ProxyNode = { ...sidecar, id: 'grpc-client', type: ProxyType.ProxylessGrpc };
    const [forGrpc] = resources.generate(TypeUrl.Endpoint, grpcProxy, new Set([name]));
    const [forSidecar] = resources.generate(TypeUrl.Endpoint, sidecar, new Set([name]));
    assert.ok(forGrpc && forSidecar);
    const g = decodeResource(forGrpc);
    const s = decodeResource(forSidecar);
    assert.equal(g['policy'], undefined, 'the gRPC assignment is unchanged');
    assert.deepEqual(s['policy'], { overprovisioning_factor: { value: 140 }, weighted_priority_health: true });
    assert.deepEqual(s['endpoints'], g['endpoints']);
  });

  it('a gRPC client still gets the proxyless resources (no sidecar leakage)', () => {
    const { resources } = mesh();
    const grpcProxy: ProxyNode = { ...sidecar, id: 'grpc-client', type: ProxyType.ProxylessGrpc };
    assert.deepEqual(resources.generate(TypeUrl.Listener, grpcProxy, undefined).map((l) => l.name), [`${ECHO}:7070`, `${ECHO}:9090`]);
  });

  it("a gRPC client with Istio's sidecar id form gets proxyless resources for the names it asks for", () => {
    const { resources } = mesh();
    const grpcProxy: ProxyNode = { ...sidecar, type: ProxyType.ProxylessGrpc };
    for (const [typeUrl, name] of [
      [TypeUrl.Listener, 'echo:7070'],
      [TypeUrl.Route, 'echo:7070'],
      [TypeUrl.Cluster, `outbound|7070||${ECHO}`],
    ] as const) {
      const [asSidecar] = resources.generate(typeUrl, sidecar, new Set([name]));
      const [asGrpc] = resources.generate(typeUrl, grpcProxy, new Set([name]));
      assert.ok(asSidecar && asGrpc, name);
      assert.equal(asSidecar.version, asGrpc.version, `${name}: same bytes as for a proxyless client`);
    }
    const [wildcardCluster] = resources.generate(TypeUrl.Cluster, sidecar, undefined).filter((c) => c.name === `outbound|7070||${ECHO}`);
    assert.ok(JSON.stringify(decodeResource(wildcardCluster as GeneratedResource)).includes('sds_config'), 'by wildcard: Envoy');
  });

  it('mTLS off: no transport sockets, plaintext inbound chains, SNI-less clusters', async () => {
    const snap = await snapshot(mesh({ mtls: false }).resources, sidecar);
    assertValid(snap);
    const text = JSON.stringify([...snap.listeners, ...snap.clusters].map(decodeResource));
    assert.ok(!text.includes('transport_socket'), 'no TLS anywhere');
    const inbound = decodeResource(snap.listeners.find((l) => l.name === 'virtualInbound') as GeneratedResource);
    const chains = inbound['filter_chains'] as Array<{ filter_chain_match: Record<string, unknown> }>;
    assert.deepEqual(
      chains.map((c) => c.filter_chain_match),
      [{ destination_port: { value: 17070 } }, { destination_port: { value: 19090 } }, { destination_port: { value: 15006 } }, undefined],
      'declared ports, 15006 itself dropped, then every other port passed through in plaintext',
    );
  });

  it('strict inbound HTTP tells the application who called (x-forwarded-client-cert); plaintext inbound does not', async () => {
    const hcmOf = async (m: ReturnType<typeof mesh>) => {
      const snap = await snapshot(m.resources, sidecar);
      const inbound = decodeResource(snap.listeners.find((l) => l.name === 'virtualInbound') as GeneratedResource);
      const chains = inbound['filter_chains'] as Array<{ name: string; filters: Array<{ typed_config: Record<string, unknown> }> }>;
      return chains.find((c) => c.name === 'inbound|17070||')?.filters[0]?.typed_config;
    };
    const strict = await hcmOf(mesh());
    assert.equal(strict?.['forward_client_cert_details'], 'APPEND_FORWARD');
    assert.deepEqual(strict?.['set_current_client_cert_details'], { subject: { value: true }, dns: true, uri: true });
    const plain = await hcmOf(mesh({ mtls: false }));
    assert.ok(plain, 'the gRPC port has an HTTP chain');
    assert.equal(plain['forward_client_cert_details'], undefined, "Envoy's default: a caller's header is removed, not trusted");
  });

  it('a pod that serves nothing declared still passes inbound connections through (strict: mTLS only), with no inbound clusters', async () => {
    const other = { ...sidecar, id: 'sidecar~10.9.9.9~client.demo~demo.svc.cluster.local', ipAddresses: ['10.9.9.9'] };
    const snap = await snapshot(mesh().resources, other);
    assert.deepEqual(inboundChains(snap), [
      { name: 'virtualInbound-blackhole', match: { destination_port: { value: 15006 } }, tls: false },
      { name: 'InboundPassthroughCluster', match: { transport_protocol: 'tls' }, tls: true },
    ]);
    const passthrough = decodeResource(snap.clusters.find((c) => c.name === 'InboundPassthroughCluster') as GeneratedResource);
    assert.equal(passthrough['type'], 'ORIGINAL_DST');
    assert.deepEqual(passthrough['upstream_bind_config'], { source_address: { address: '127.0.0.6', port_value: 0 } }, 'not captured again by iptables');
    assert.ok(!snap.clusters.some((c) => c.name.startsWith('inbound|')));
    assertValid(snap);
  });

  it("connections to the sidecar's own 15006 and 15001 go to the black hole, not round the passthrough again", async () => {
    const snap = await snapshot(mesh({ mtls: false }).resources, sidecar);
    const chainTo = (listener: string, port: number) => {
      const l = decodeResource(snap.listeners.find((x) => x.name === listener) as GeneratedResource);
      const chains = l['filter_chains'] as Array<{ filter_chain_match?: { destination_port?: { value: number } }; filters: Array<{ typed_config: { cluster: string } }> }>;
      return chains.find((c) => c.filter_chain_match?.destination_port?.value === port)?.filters[0]?.typed_config.cluster;
    };
    assert.equal(chainTo('virtualInbound', 15006), 'BlackHoleCluster');
    assert.equal(chainTo('virtualOutbound', 15001), 'BlackHoleCluster');
    const blackhole = decodeResource(snap.clusters.find((c) => c.name === 'BlackHoleCluster') as GeneratedResource);
    assert.equal(blackhole['type'], 'STATIC');
    assert.equal(blackhole['load_assignment'], undefined, 'no endpoints');
    assertValid(snap);
  });

  it('inbound clusters reach the application at the dialled pod address from 127.0.0.6, never through loopback', async () => {
    const snap = await snapshot(mesh().resources, sidecar);
    const inbound = snap.clusters.filter((c) => c.name.startsWith('inbound|')).map(decodeResource);
    assert.deepEqual(inbound.map((c) => c['name']), ['inbound|17070||', 'inbound|19090||']);
    for (const c of inbound) {
      assert.equal(c['type'], 'ORIGINAL_DST');
      assert.deepEqual(c['upstream_bind_config'], { source_address: { address: '127.0.0.6', port_value: 0 } });
      assert.ok(!JSON.stringify(c).includes('127.0.0.1'), 'an app bound to localhost only is not exposed');
    }
  });

  it("an endpoint of another cluster at the proxy's address is not its own (overlapping pod CIDRs)", async () => {
    const westTwin = { ...sidecar, id: 'sidecar~10.1.0.1~x.demo~demo.svc.cluster.local', ipAddresses: ['10.1.0.1'] };
    const snap = await snapshot(mesh().resources, westTwin);
    assert.deepEqual(inboundChains(snap).map((c) => c.name), ['virtualInbound-blackhole', 'InboundPassthroughCluster'], 'east proxy, west endpoint: not its own');
  });

  it('routes: short names only for the caller namespace, each domain once, allow_any last', () => {
    const { resources, discovery } = mesh();
    discovery.svcs = [
      echo,
      { ...echo, hostname: 'echo.other.svc.cluster.local', namespace: 'other', addresses: { east: ['10.96.0.11'] } },
    ];
    resources.invalidate({ kind: 'full', configs: [], reasons: [] });
    const [route] = resources.generate(TypeUrl.Route, sidecar, new Set(['7070']));
    assert.ok(route);
    const vhs = decodeResource(route)['virtual_hosts'] as Array<{ name: string; domains: string[] }>;
    assert.deepEqual(vhs.map((v) => v.name), [`${ECHO}:7070`, 'echo.other.svc.cluster.local:7070', 'allow_any']);
    assert.ok(vhs[0]?.domains.includes('echo') && vhs[0].domains.includes('echo:7070'));
    assert.ok(!vhs[1]?.domains.some((d) => d === 'echo' || d === 'echo:7070'), 'the other namespace does not get the bare name');
    assert.ok(vhs[1]?.domains.includes('echo.other'));
    const all = vhs.flatMap((v) => v.domains);
    assert.equal(new Set(all).size, all.length, 'no domain twice');
  });

  it('routes: every ClusterIP as the Host header carries it, IPv6 in brackets, for callers in any namespace', () => {
    const { resources, discovery } = mesh();
    discovery.svcs = [{ ...echo, addresses: { east: ['10.96.0.10', 'fd00:10:96::a'], west: ['10.97.0.10'] } }];
    resources.invalidate({ kind: 'full', configs: [], reasons: [] });
    const elsewhere = { ...sidecar, id: 'sidecar~10.0.0.9~sleep-0.other~other.svc.cluster.local', namespace: 'other' };
    for (const caller of [sidecar, elsewhere]) {
      const [route] = resources.generate(TypeUrl.Route, caller, new Set(['7070']));
      assert.ok(route);
      const [vh] = decodeResource(route)['virtual_hosts'] as Array<{ domains: string[] }>;
      const addresses = vh?.domains.filter((d) => /^[[\d]/.test(d));
      assert.deepEqual(addresses, ['10.96.0.10', '10.96.0.10:7070', '[fd00:10:96::a]', '[fd00:10:96::a]:7070', '10.97.0.10', '10.97.0.10:7070'], caller.namespace);
    }
  });

  it('TCP port listener: a chain per service VIP, a VIP two services claim goes to the first', () => {
    const { resources, discovery } = mesh();
    discovery.svcs = [echo, { ...echo, hostname: 'zed.demo.svc.cluster.local', name: 'zed', addresses: { east: ['10.96.0.10', '10.96.0.99'] } }];
    resources.invalidate({ kind: 'full', configs: [], reasons: [] });
    const [l] = resources.generate(TypeUrl.Listener, sidecar, new Set(['0.0.0.0_9090']));
    assert.ok(l);
    const listener = decodeResource(l);
    assert.deepEqual(listener['bind_to_port'], {}, 'false: a wrapper holding its default decodes empty');
    const chains = listener['filter_chains'] as Array<{ name: string; filter_chain_match?: { prefix_ranges: Array<{ address_prefix: string }> } }>;
    assert.deepEqual(
      chains.map((c) => [c.name, (c.filter_chain_match?.prefix_ranges ?? []).map((p) => p.address_prefix)]),
      [
        [`outbound|9090||${ECHO}`, ['10.96.0.10', '10.97.0.10']],
        ['outbound|9090||zed.demo.svc.cluster.local', ['10.96.0.99']],
        ['0.0.0.0_9090-passthrough', []],
      ],
    );
    assert.equal(validateAnyBytes(l.any).ok, true);
  });

  it('ports: protocol from appProtocol or name prefix; HTTP/2 upstream only where declared', () => {
    const table: Array<[{ name: string; appProtocol?: string }, TrafficProtocol]> = [
      [{ name: 'grpc' }, TrafficProtocol.Http2],
      [{ name: 'grpc-echo' }, TrafficProtocol.Http2],
      [{ name: 'http2-web' }, TrafficProtocol.Http2],
      [{ name: 'web', appProtocol: 'kubernetes.io/h2c' }, TrafficProtocol.Http2],
      [{ name: 'http' }, TrafficProtocol.Http],
      [{ name: 'x', appProtocol: 'HTTP' }, TrafficProtocol.Http],
      [{ name: 'tcp' }, TrafficProtocol.Tcp],
      [{ name: '' }, TrafficProtocol.Tcp],
      [{ name: 'mongo' }, TrafficProtocol.Tcp],
    ];
    for (const [port, want] of table) assert.equal(trafficProtocol(port), want, JSON.stringify(port));
  });

  it('gateway: one SNI chain per local service port; its EDS holds only its own cluster endpoints', async () => {
    const snap = await snapshot(mesh().resources, gateway);
    assert.deepEqual(snap.listeners.map((l) => l.name), ['0.0.0.0_15443']);
    assert.deepEqual(snap.clusters.map((c) => c.name), [sniName(ECHO, 7070), sniName(ECHO, 9090)]);
    const cla = decodeResource(snap.endpoints[0] as GeneratedResource) as { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string } } } }> }> };
    assert.deepEqual(cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)), ['10.1.0.1']);
    const plainRouter = { ...gateway, id: 'router~1.2.3.4~ingress.istio-system~istio-system.svc.cluster.local', labels: { istio: 'ingressgateway' } };
    assert.deepEqual(resources().generate(TypeUrl.Listener, plainRouter, undefined), [], 'other routers get nothing from Meridian');
  });

  it("a pod's own ports follow endpoint pushes: moved, then its service gone", async () => {
    const { resources, discovery } = mesh();
    const moved = { ...sidecar, id: 'sidecar~10.0.0.9~echo-east-9.demo~demo.svc.cluster.local', ipAddresses: ['10.0.0.9'] };
    const hasInbound = async (proxy: ProxyNode) => inboundChains(await snapshot(resources, proxy)).some((c) => c.name.startsWith('inbound|'));
    assert.equal(await hasInbound(sidecar), true);
    assert.equal(await hasInbound(moved), false);

    discovery.eps[ECHO] = [...endpoints('10.0.0.9', 'east'), ...endpoints('10.0.0.2', 'east'), ...endpoints('10.1.0.1', 'west')];
    resources.invalidate({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, [ECHO]), reasons: [] });
    assert.equal(await hasInbound(sidecar), false, 'the endpoint left 10.0.0.1');
    assert.equal(await hasInbound(moved), true, 'and arrived at 10.0.0.9');

    discovery.svcs = [];
    resources.invalidate({ kind: 'full', configs: hostnameKeys(ConfigKind.Service, [ECHO]), reasons: [] });
    assert.equal(await hasInbound(moved), false, 'a removed service serves no port');
  });

  it('affects: endpoints pushes reach EDS, the inbound side and strict clusters; never routes', () => {
    const { resources } = mesh();
    const endpointsPush = { kind: 'endpoints' as const, configs: hostnameKeys(ConfigKind.Endpoints, [ECHO]), reasons: [] };
    const fullOther = { kind: 'full' as const, configs: hostnameKeys(ConfigKind.Service, ['other.demo.svc.cluster.local']), reasons: [] };
    assert.equal(resources.affects(endpointsPush, TypeUrl.Endpoint, sidecar, `outbound|7070||${ECHO}`), true);
    assert.equal(resources.affects(endpointsPush, TypeUrl.Endpoint, sidecar, sniName(ECHO, 7070)), true);
    assert.equal(resources.affects(endpointsPush, TypeUrl.Route, sidecar, '7070'), false);
    assert.equal(resources.affects(endpointsPush, TypeUrl.Listener, sidecar, undefined), true);
    assert.equal(resources.affects(endpointsPush, TypeUrl.Listener, sidecar, '0.0.0.0_7070'), false);
    assert.equal(resources.affects(endpointsPush, TypeUrl.Cluster, sidecar, `outbound|7070||${ECHO}`), true, 'strict: SANs follow endpoints');
    assert.equal(mesh({ mtls: false }).resources.affects(endpointsPush, TypeUrl.Cluster, sidecar, `outbound|7070||${ECHO}`), false);
    assert.equal(resources.affects(fullOther, TypeUrl.Route, sidecar, '7070'), true, 'a new service may join any port');
    assert.equal(resources.affects(fullOther, TypeUrl.Cluster, sidecar, `outbound|7070||${ECHO}`), false);
    assert.equal(resources.affects(fullOther, TypeUrl.Endpoint, sidecar, `outbound|7070||${ECHO}`), false);
  });

  it('a full push rebuilds the aggregate resources: a new service joins the port listener and routes', () => {
    const { resources, discovery } = mesh();
    const before = resources.generate(TypeUrl.Route, sidecar, new Set(['7070']))[0];
    discovery.svcs = [echo, { ...echo, hostname: 'new.demo.svc.cluster.local', name: 'new', addresses: {} }];
    resources.invalidate({ kind: 'full', configs: hostnameKeys(ConfigKind.Service, ['new.demo.svc.cluster.local']), reasons: [] });
    const after = resources.generate(TypeUrl.Route, sidecar, new Set(['7070']))[0];
    assert.notEqual(after?.version, before?.version);
    const vhs = decodeResource(after as GeneratedResource)['virtual_hosts'] as Array<{ name: string }>;
    assert.ok(vhs.some((v) => v.name === 'new.demo.svc.cluster.local:7070'));
  });

  it('secrets: per proxy, never cached, versions from the certificate only; no identity, no default secret', async () => {
    const first = await secretsOf(sidecar);
    const again = await secretsOf(sidecar);
    assert.notEqual(first[0]?.any, again[0]?.any, 'built afresh for each call');
    assert.equal(first[0]?.version, again[0]?.version);
    assert.equal(decodeResource(first[0] as GeneratedResource)['@type'], SECRET_TYPE_URL);
    const anonymous = { ...sidecar, id: 'sidecar~10.0.0.9~anon.demo~demo.svc.cluster.local' };
    delete (anonymous as { serviceAccount?: string }).serviceAccount;
    assert.deepEqual((await secretsOf(anonymous)).map((s) => s.name), ['ROOTCA']);
  });

  it('config_dump: Envoy admin shape with decoded resources and redacted keys', async () => {
    const { resources } = mesh();
    const dump = configDump(sidecar, resources, { secrets: await secretsOf(sidecar) });
    const types = dump.configs.map((c) => (c as { '@type': string })['@type'].split('.').pop());
    assert.deepEqual(types, ['ListenersConfigDump', 'ClustersConfigDump', 'RoutesConfigDump', 'EndpointsConfigDump', 'SecretsConfigDump']);
    const [listeners, clusters, routes, endpoints, secrets] = dump.configs as Array<Record<string, Array<Record<string, unknown>>>>;
    assert.deepEqual(listeners?.['dynamic_listeners']?.map((l) => l['name']), ['virtualOutbound', '0.0.0.0_7070', '0.0.0.0_9090', 'virtualInbound']);
    const firstCluster = clusters?.['dynamic_active_clusters']?.[0]?.['cluster'] as Record<string, unknown>;
    assert.equal(firstCluster['@type'], TypeUrl.Cluster);
    assert.equal(routes?.['dynamic_route_configs']?.length, 2, 'the outbound port 7070 and the inbound port 17070');
    assert.equal(endpoints?.['dynamic_endpoint_configs']?.length, 2);
    const text = JSON.stringify(secrets);
    assert.ok(text.includes('[redacted]') && !text.includes('TEST KEY'), 'private keys are redacted');

    // With the stream's watches: only what was subscribed, with the versions that were sent.
    const watches = new Map([[TypeUrl.Cluster, { names: new Set([`outbound|7070||${ECHO}`]), lastVersion: 'v1', lastSentAt: 0 }]]);
    const partial = configDump(sidecar, resources, { watches });
    const cds = partial.configs[1] as { version_info?: string; dynamic_active_clusters: unknown[] };
    assert.equal(cds.version_info, 'v1');
    assert.equal(cds.dynamic_active_clusters.length, 1);
    assert.equal((partial.configs[0] as { dynamic_listeners: unknown[] }).dynamic_listeners.length, 0, 'LDS not subscribed');
  });
});

function resources(): MeshResources {
  return mesh().resources;
}
