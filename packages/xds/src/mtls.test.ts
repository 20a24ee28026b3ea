import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// The real gRPC peer's own validators and bootstrap parser, so "grpc-js-xds accepts it" is
// checked rather than assumed. They are not public API of grpc-js-xds: if they move, these
// imports fail loudly.
import { validateBootstrapConfig } from '@grpc/grpc-js-xds/build/src/xds-bootstrap.js';
import { ClusterResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js';
import { ListenerResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js';
// After the resource types: loaded first, it fails to find descriptor.proto (their module
// graph sets up the proto loader it relies on).
import { setup as registerRouterFilter } from '@grpc/grpc-js-xds/build/src/http-filter/router-filter.js';
import {
  ConfigKind,
  hostnameKeys,
  EMPTY_LOCALITY,
  Health,
  type Endpoint,
  type PushRequest,
  type Service,
} from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { inboundListenerName, MtlsMode, parseInboundListenerName, serverSanMatchers, serviceIdentities, type MtlsOptions } from './mtls.ts';
import { decodeMessage, protoType } from './protos.ts';
import type { GeneratedResource } from './resource-source.ts';
import { TypeUrl } from './type-url.ts';
import { StaticDiscovery, testProxy } from './testing/index.ts';


const ECHO = 'echo.demo.svc.cluster.local';
const PLAIN = 'plain.demo.svc.cluster.local';
const ECHO_CLUSTER = `outbound|7070||${ECHO}`;
const PLAIN_CLUSTER = `outbound|7071||${PLAIN}`;

const svc = (hostname: string, port: number, serviceAccounts: string[]): Service => {
  const [name = '', namespace = ''] = hostname.split('.');
  return {
    hostname,
    name,
    namespace,
    ports: [{ name: 'grpc', port, protocol: 'TCP' }],
    clusters: ['east', 'west'],
    addresses: {},
    serviceAccounts,
  };
};
const ep = (address: string, port: number, serviceAccount: string, cluster = 'east'): Endpoint => ({
  address,
  port,
  portName: 'grpc',
  cluster,
  network: cluster,
  locality: EMPTY_LOCALITY,
  health: Health.Healthy,
  serviceAccount,
});
const proxy = testProxy();

function setup(mtls: MtlsOptions | undefined) {
  const discovery = new StaticDiscovery([svc(ECHO, 7070, ['echo', 'echo-canary']), svc(PLAIN, 7071, ['plain'])], {
    [ECHO]: [ep('10.0.0.1', 17070, 'echo'), ep('10.1.0.1', 17070, 'echo-canary', 'west')],
    [PLAIN]: [ep('10.0.0.2', 17071, 'plain')],
  });
  const resources = new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], ...(mtls ? { mtls } : {}) });
  return { discovery, resources };
}

const STRICT: MtlsOptions = { mode: MtlsMode.Strict, trustDomain: 'mesh.example' };

// What `register()` does for the router among its many side effects: an HCM whose router is
// not registered fails validation.
registerRouterFilter();

/** A bootstrap with the certificate provider instance the resources refer to. */
const bootstrap = validateBootstrapConfig({
  xds_servers: [{ server_uri: 'localhost:15010', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
  node: { id: 'test', locality: {} },
  certificate_providers: {
    default: {
      plugin_name: 'file_watcher',
      config: { certificate_file: '/c/cert-chain.pem', private_key_file: '/c/key.pem', ca_certificate_file: '/c/root-cert.pem', refresh_interval: '60s' },
    },
  },
  server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
});
const context = { server: bootstrap.xdsServers[0], bootstrap } as never;

function anyOf(r: GeneratedResource | undefined): { type_url: string; value: Buffer } {
  assert.ok(r, 'resource generated');
  const any = protoType('google.protobuf.Any').decode(r.any) as unknown as { type_url: string; value: Uint8Array };
  return { type_url: any.type_url, value: Buffer.from(any.value) };
}

function decode<T>(typeUrl: TypeUrl, r: GeneratedResource | undefined): T {
  return decodeMessage(typeUrl, anyOf(r).value) as T;
}

/** What grpc-js-xds makes of the resource: its parsed value, or the test fails with its reasons. */
function grpcAccepts(typeUrl: TypeUrl, r: GeneratedResource | undefined): Record<string, unknown> {
  const type = typeUrl === TypeUrl.Cluster ? ClusterResourceType.get() : ListenerResourceType.get();
  const verdict = type.decode(context, anyOf(r));
  assert.equal(verdict.error, undefined, 'grpc-js-xds accepts the resource');
  return verdict.value as Record<string, unknown>;
}

interface DecodedTls {
  name: string;
  typed_config: {
    '@type': string;
    require_client_certificate?: { value: boolean };
    common_tls_context: {
      tls_certificate_provider_instance: { instance_name: string; certificate_name: string };
      validation_context: {
        ca_certificate_provider_instance: { instance_name: string; certificate_name: string };
        match_subject_alt_names?: Array<{ exact?: string; prefix?: string }>;
      };
    };
  };
}
interface DecodedCluster {
  name: string;
  transport_socket?: DecodedTls;
}
interface DecodedInbound {
  name: string;
  address: { socket_address: { address: string; port_value: number } };
  filter_chains: Array<{
    filters: Array<{
      name: string;
      typed_config: {
        '@type': string;
        route_config: { virtual_hosts: Array<{ domains: string[]; routes: Array<{ match: { prefix: string }; non_forwarding_action?: object }> }> };
        http_filters: Array<{ name: string }>;
      };
    }>;
    transport_socket?: DecodedTls;
  }>;
}

const cluster = (resources: MeshResources, name = ECHO_CLUSTER) => resources.generate(TypeUrl.Cluster, proxy, new Set([name]))[0];
const inbound = (resources: MeshResources, address: string, port: number) =>
  resources.generate(TypeUrl.Listener, proxy, new Set([inboundListenerName(address, port)]))[0];

describe('mTLS resources', () => {
  it('names: SPIFFE IDs of every service account, sorted; inbound listener names round-trip', () => {
    assert.deepEqual(serviceIdentities('td', { namespace: 'demo', serviceAccounts: ['b', 'a', 'b'] }), [
      'spiffe://td/ns/demo/sa/a',
      'spiffe://td/ns/demo/sa/b',
    ]);
    assert.deepEqual(serverSanMatchers('td', []), [{ prefix: 'spiffe://td/' }], 'no known identity: the trust domain, never "anything"');
    assert.equal(inboundListenerName('10.0.0.1', 8080), 'xds.istio.io/grpc/lds/inbound/10.0.0.1:8080');
    assert.deepEqual(parseInboundListenerName('xds.istio.io/grpc/lds/inbound/10.0.0.1:8080'), { address: '10.0.0.1', port: 8080 });
    assert.deepEqual(parseInboundListenerName(inboundListenerName('fd00::1', 80)), { address: 'fd00::1', port: 80 });
    assert.equal(parseInboundListenerName('echo:7070'), undefined);
    assert.equal(parseInboundListenerName('xds.istio.io/grpc/lds/inbound/10.0.0.1'), undefined);
  });

  it('without mtls options, clusters carry no transport socket and inbound listeners are plaintext', () => {
    const { resources } = setup(undefined);
    const c = decode<DecodedCluster>(TypeUrl.Cluster, cluster(resources));
    assert.equal(c.transport_socket, undefined);
    const l = decode<DecodedInbound>(TypeUrl.Listener, inbound(resources, '10.0.0.1', 17070));
    assert.equal(l.filter_chains[0]?.transport_socket, undefined);
    grpcAccepts(TypeUrl.Listener, inbound(resources, '10.0.0.1', 17070));
  });

  it('strict: the cluster requires the service identities, from the bootstrap certificate provider', () => {
    const { resources } = setup(STRICT);
    const r = cluster(resources);
    const c = decode<DecodedCluster>(TypeUrl.Cluster, r);
    assert.equal(c.transport_socket?.name, 'envoy.transport_sockets.tls');
    const tls = c.transport_socket?.typed_config;
    assert.equal(tls?.['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.deepEqual(tls?.common_tls_context.tls_certificate_provider_instance, { instance_name: 'default', certificate_name: 'default' });
    assert.deepEqual(tls?.common_tls_context.validation_context.ca_certificate_provider_instance, { instance_name: 'default', certificate_name: 'ROOTCA' });
    assert.deepEqual(tls?.common_tls_context.validation_context.match_subject_alt_names, [
      { exact: 'spiffe://mesh.example/ns/demo/sa/echo' },
      { exact: 'spiffe://mesh.example/ns/demo/sa/echo-canary' },
    ]);

    const parsed = grpcAccepts(TypeUrl.Cluster, r) as { securityUpdate?: { caCertificateProviderInstance: string; identityCertificateProviderInstance: string; subjectAltNameMatchers: Array<{ exact: string }> } };
    assert.equal(parsed.securityUpdate?.caCertificateProviderInstance, 'default');
    assert.equal(parsed.securityUpdate?.identityCertificateProviderInstance, 'default');
    assert.deepEqual(parsed.securityUpdate?.subjectAltNameMatchers.map((m) => m.exact), [
      'spiffe://mesh.example/ns/demo/sa/echo',
      'spiffe://mesh.example/ns/demo/sa/echo-canary',
    ]);
  });

  it('grpc-js-xds rejects the cluster when the bootstrap has no such provider (so the bootstrap must carry one)', () => {
    const { resources } = setup(STRICT);
    const bare = validateBootstrapConfig({ xds_servers: [{ server_uri: 'x:1', channel_creds: [{ type: 'insecure' }] }], node: { id: 'n', locality: {} } });
    const verdict = ClusterResourceType.get().decode({ server: bare.xdsServers[0], bootstrap: bare } as never, anyOf(cluster(resources)));
    assert.match(String(verdict.error), /Unmatched .*instance_name: default/);
  });

  it('strict: the inbound listener is a TLS server filter chain that requires client certificates', () => {
    const { resources } = setup(STRICT);
    const r = inbound(resources, '10.0.0.1', 17070);
    const l = decode<DecodedInbound>(TypeUrl.Listener, r);
    assert.equal(l.name, 'xds.istio.io/grpc/lds/inbound/10.0.0.1:17070');
    assert.deepEqual(l.address.socket_address, { address: '10.0.0.1', port_value: 17070 });
    assert.equal(l.filter_chains.length, 1);
    const chain = l.filter_chains[0];
    assert.ok(chain);
    assert.deepEqual(chain.filters.map((f) => f.name), ['envoy.filters.network.http_connection_manager']);
    const hcm = chain.filters[0]?.typed_config;
    assert.deepEqual(hcm?.http_filters.map((f) => f.name), ['envoy.filters.http.router']);
    const vh = hcm?.route_config.virtual_hosts[0];
    assert.deepEqual(vh?.domains, ['*']);
    assert.deepEqual(vh?.routes, [{ match: { prefix: '' }, non_forwarding_action: {} }]);
    const tls = chain.transport_socket?.typed_config;
    assert.equal(tls?.['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    assert.deepEqual(tls?.require_client_certificate, { value: true });
    assert.deepEqual(tls?.common_tls_context.tls_certificate_provider_instance, { instance_name: 'default', certificate_name: 'default' });
    assert.deepEqual(tls?.common_tls_context.validation_context.ca_certificate_provider_instance, { instance_name: 'default', certificate_name: 'ROOTCA' });
    grpcAccepts(TypeUrl.Listener, r);
  });

  it('per-service overrides: a disabled service in a strict mesh, and a strict one in a plaintext mesh', () => {
    const strictMesh = setup({ ...STRICT, services: { [PLAIN]: MtlsMode.Disable } }).resources;
    assert.ok(decode<DecodedCluster>(TypeUrl.Cluster, cluster(strictMesh)).transport_socket);
    assert.equal(decode<DecodedCluster>(TypeUrl.Cluster, cluster(strictMesh, PLAIN_CLUSTER)).transport_socket, undefined);
    const tlsOf = (res: MeshResources, address: string, port: number) =>
      decode<DecodedInbound>(TypeUrl.Listener, inbound(res, address, port)).filter_chains[0]?.transport_socket !== undefined;
    assert.equal(tlsOf(strictMesh, '10.0.0.1', 17070), true, 'echo endpoint: strict');
    assert.equal(tlsOf(strictMesh, '10.0.0.2', 17071), false, 'plain endpoint: its override');
    assert.equal(tlsOf(strictMesh, '10.9.9.9', 1234), true, 'nobody there: the global mode');

    const plainMesh = setup({ mode: MtlsMode.Disable, trustDomain: 'mesh.example', services: { [ECHO]: MtlsMode.Strict } }).resources;
    assert.ok(decode<DecodedCluster>(TypeUrl.Cluster, cluster(plainMesh)).transport_socket);
    assert.equal(decode<DecodedCluster>(TypeUrl.Cluster, cluster(plainMesh, PLAIN_CLUSTER)).transport_socket, undefined);
    assert.equal(tlsOf(plainMesh, '10.1.0.1', 17070), true, 'echo endpoint in the other cluster: strict');
    assert.equal(tlsOf(plainMesh, '10.0.0.2', 17071), false);
    assert.equal(tlsOf(plainMesh, '10.0.0.1', 9999), false, 'right address, wrong port: nobody there');
    for (const [address, port] of [['10.0.0.1', 17070], ['10.0.0.2', 17071]] as const) grpcAccepts(TypeUrl.Listener, inbound(plainMesh, address, port));
    grpcAccepts(TypeUrl.Cluster, cluster(plainMesh));
    grpcAccepts(TypeUrl.Cluster, cluster(plainMesh, PLAIN_CLUSTER));
  });

  it('service account changes (an endpoints push) reach CDS of strict services only', () => {
    const { resources, discovery } = setup({ mode: MtlsMode.Disable, trustDomain: 'td', services: { [ECHO]: MtlsMode.Strict } });
    const before = cluster(resources);
    const plainBefore = cluster(resources, PLAIN_CLUSTER);
    const sans = (r: GeneratedResource | undefined) =>
      decode<DecodedCluster>(TypeUrl.Cluster, r).transport_socket?.typed_config.common_tls_context.validation_context.match_subject_alt_names?.map((m) => m.exact);
    assert.deepEqual(sans(before), ['spiffe://td/ns/demo/sa/echo', 'spiffe://td/ns/demo/sa/echo-canary']);

    const change = (hostname: string): PushRequest => ({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, [hostname]), reasons: [] });
    assert.equal(resources.affects(change(ECHO), TypeUrl.Cluster, proxy, ECHO_CLUSTER), true);
    assert.equal(resources.affects(change(ECHO), TypeUrl.Cluster, proxy, PLAIN_CLUSTER), false);
    assert.equal(resources.affects(change(PLAIN), TypeUrl.Cluster, proxy, PLAIN_CLUSTER), false, 'plaintext cluster: endpoints never change it');
    assert.equal(resources.affects(change(ECHO), TypeUrl.Cluster, proxy, undefined), true);
    assert.equal(resources.affects(change(ECHO), TypeUrl.Route, proxy, `${ECHO}:7070`), false);
    assert.equal(resources.affects(change(ECHO), TypeUrl.Listener, proxy, `${ECHO}:7070`), false, 'API listeners do not depend on endpoints');

    // The aggregate registry recomputes serviceAccounts from endpoints; mimic it.
    discovery.svcs[0] = svc(ECHO, 7070, ['echo', 'echo-v2']);
    resources.invalidate(change(ECHO));
    assert.deepEqual(sans(cluster(resources)), ['spiffe://td/ns/demo/sa/echo', 'spiffe://td/ns/demo/sa/echo-v2']);
    assert.equal(cluster(resources, PLAIN_CLUSTER)?.any, plainBefore?.any, 'the plaintext cluster kept its cached bytes');

    // Same accounts again: rebuilt, but the content hash (the version a proxy sees) is unchanged.
    const v2 = cluster(resources);
    resources.invalidate(change(ECHO));
    assert.equal(cluster(resources)?.version, v2?.version);
  });

  it('inbound listeners follow endpoint ownership only when a service has a mode of its own', () => {
    const uniform = setup(STRICT).resources;
    const name = inboundListenerName('10.0.0.1', 17070);
    const epPush = (h: string): PushRequest => ({ kind: 'endpoints', configs: hostnameKeys(ConfigKind.Endpoints, [h]), reasons: [] });
    assert.equal(uniform.affects(epPush(ECHO), TypeUrl.Listener, proxy, name), false, 'one mode for all: ownership cannot matter');
    assert.equal(uniform.affects({ kind: 'full', configs: hostnameKeys(ConfigKind.Service, [ECHO]), reasons: [] }, TypeUrl.Listener, proxy, name), false);
    assert.equal(uniform.affects({ kind: 'full', configs: [], reasons: [] }, TypeUrl.Listener, proxy, name), true);

    const { resources, discovery } = setup({ ...STRICT, services: { [PLAIN]: MtlsMode.Disable } });
    assert.equal(resources.affects(epPush(PLAIN), TypeUrl.Listener, proxy, name), true, 'plain may just have taken this ip:port');
    assert.equal(resources.affects(epPush(ECHO), TypeUrl.Listener, proxy, name), false, 'echo has the global mode anyway');

    const tls = () => decode<DecodedInbound>(TypeUrl.Listener, inbound(resources, '10.0.0.9', 9000)).filter_chains[0]?.transport_socket !== undefined;
    assert.equal(tls(), true, 'unowned: global strict');
    discovery.eps[PLAIN] = [ep('10.0.0.2', 17071, 'plain'), ep('10.0.0.9', 9000, 'plain')];
    resources.invalidate(epPush(PLAIN));
    assert.equal(tls(), false, 'now a plain endpoint');
  });

  it('a pod behind a strict and a disabled service gets a TLS listener (fail loudly, not open)', () => {
    const { resources, discovery } = setup({ mode: MtlsMode.Disable, trustDomain: 'td', services: { [ECHO]: MtlsMode.Strict } });
    discovery.eps[PLAIN] = [ep('10.0.0.1', 17070, 'echo')];
    resources.invalidate({ kind: 'full', configs: [], reasons: [] });
    assert.equal(resources.inboundMode('10.0.0.1', 17070), MtlsMode.Strict);
  });
});
