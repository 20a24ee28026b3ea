import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientKind, type ClusterPolicy, type DestinationPolicy, type HostRoutes, type HttpRouteRule, type RequestMatch, type Subset } from '@meridian/model';
import { buildSidecarOutboundCluster } from './envoy-resources.ts';
import { loadSidecarProtos } from './envoy-protos.ts';
import { buildEdsCluster, buildRouteConfiguration } from './grpc-resources.ts';
import { subsetEndpoints } from './policy-clusters.ts';
import { buildDefaultRoute, buildPolicyRoutes, type RouteBuildContext } from './policy-routes.ts';
import { encodeMessage } from './protos.ts';
import { validateEncoded } from './testing/proto-validate.ts';
import { TypeUrl } from './type-url.ts';

const REVIEWS = 'reviews.bookinfo.svc.cluster.local';
/** A decoded-shape message, read field by field in assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk plain message objects
type Json = Record<string, any>;
const source = (path: string) => ({ kind: 'VirtualService', namespace: 'bookinfo', name: 'reviews', path });
const match = (m: Partial<RequestMatch>): RequestMatch => ({ ignoreUriCase: false, headers: [], queryParams: [], ...m });
const rule = (r: Partial<HttpRouteRule> & Pick<HttpRouteRule, 'action'>): HttpRouteRule => ({ source: source('spec.http[0]'), matches: [], mirrors: [], limits: {}, ...r });
const forward = (...targets: Array<[string | undefined, number]>) =>
  ({ type: 'forward', targets: targets.map(([subset, weight]) => ({ host: REVIEWS, weight, ...(subset ? { subset } : {}) })) }) as const;

const noPolicy: ClusterPolicy = { limits: {} };
const ringHash: ClusterPolicy = { loadBalancer: { type: 'hash', key: { header: 'x-user' }, ring: 'ring', minimumRingSize: 1024 }, limits: {} };
const destination: DestinationPolicy = {
  host: REVIEWS,
  source: { kind: 'DestinationRule', namespace: 'bookinfo', name: 'reviews', path: 'spec' },
  policy: ringHash,
  portPolicies: new Map(),
  subsets: new Map<string, Subset>([
    ['v1', { name: 'v1', labels: { version: 'v1' }, policy: ringHash, portPolicies: new Map() }],
    ['east', { name: 'east', labels: { 'topology.istio.io/cluster': 'east' }, policy: noPolicy, portPolicies: new Map() }],
  ]),
};

function ctx(client: ClientKind, over: Partial<RouteBuildContext> = {}): RouteBuildContext {
  return { client, caller: { namespace: 'bookinfo', labels: { app: 'productpage' } }, port: 9080, destinationFor: () => destination, ...over };
}

/** Encoded and checked against Envoy's validation rules, as a client would receive it. */
function assertValid(typeUrl: TypeUrl, value: object): void {
  loadSidecarProtos();
  const result = validateEncoded(typeUrl, encodeMessage(typeUrl, value));
  assert.deepEqual(result.ok ? [] : result.errors, [], JSON.stringify(value));
}

const routes: HostRoutes = {
  host: REVIEWS,
  source: source('spec'),
  tls: [],
  tcp: [],
  rules: [
    rule({
      matches: [match({ headers: [{ name: 'end-user', match: { exact: 'jason' }, invert: false }], method: { exact: 'GET' } })],
      action: forward(['v1', 1]),
      timeoutMs: 1500,
      retries: { attempts: 3, perTryTimeoutMs: 500, retryOn: '5xx,unavailable' },
      fault: { delay: { fixedDelayMs: 700, percent: 12.5 } },
      headers: { request: { set: { 'x-a': '1' }, add: {}, remove: ['x-b'] } },
      mirrors: [{ target: { host: REVIEWS, subset: 'v3' }, percent: 50 }],
      limits: { grpc: { omit: ['match[0].method: gRPC routes match on path and headers only'], ignored: [] } },
    }),
    rule({ matches: [match({ uri: { pathPrefix: '/api/v1/' }, queryParams: [{ name: 'debug', match: { exact: '1' } }] })], action: { type: 'respond', status: 418, body: 'teapot' }, limits: { grpc: { omit: ['directResponse'], ignored: [] } } }),
    rule({ matches: [match({ uri: { prefix: '/old' } })], action: forward([undefined, 1]), rewrite: { uri: '/new', authority: 'reviews.internal' }, limits: { grpc: { omit: ['rewrite'], ignored: [] } } }),
    rule({ matches: [match({ sourceLabels: { app: 'ratings' } })], action: forward(['v3', 1]) }),
    rule({ matches: [match({ port: 9443 })], action: forward(['v3', 1]) }),
    rule({ matches: [match({ uri: { pathPrefix: '/reviews.Reviews' } })], action: forward(['v1', 80], ['v2', 20]), timeoutMs: 2000, fault: { abort: { grpcStatus: 'UNAVAILABLE', percent: 100 } }, retries: { attempts: 2, retryOn: 'unavailable,5xx' } }),
  ],
};

describe('traffic policy as Envoy routes', () => {
  it('compiles every rule this caller and port reach, in order, into routes Envoy accepts', () => {
    const built = buildPolicyRoutes(routes, ctx(ClientKind.Envoy)) as Json[];
    // The sourceLabels rule is for another caller, the port rule for another port.
    assert.equal(built.length, 4);
    const [byHeader, teapot, rewrite, split] = built;
    assert.deepEqual(byHeader?.['match'], {
      prefix: '/',
      headers: [
        { name: 'end-user', string_match: { exact: 'jason' } },
        { name: ':method', string_match: { exact: 'GET' } },
      ],
    });
    assert.deepEqual(byHeader?.['route'], {
      cluster: `outbound|9080|v1|${REVIEWS}`,
      hash_policy: [{ header: { header_name: 'x-user' } }],
      timeout: { seconds: 1, nanos: 500_000_000 },
      retry_policy: { retry_on: '5xx,unavailable', num_retries: { value: 3 }, per_try_timeout: { seconds: 0, nanos: 500_000_000 } },
      request_mirror_policies: [{ cluster: `outbound|9080|v3|${REVIEWS}`, runtime_fraction: { default_value: { numerator: 500_000, denominator: 'MILLION' } } }],
    });
    assert.deepEqual(byHeader?.['request_headers_to_add'], [{ header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    assert.deepEqual(byHeader?.['typed_per_filter_config']['envoy.filters.http.fault'].delay, { fixed_delay: { seconds: 0, nanos: 700_000_000 }, percentage: { numerator: 125_000, denominator: 'MILLION' } });
    assert.deepEqual(teapot, {
      match: { path_separated_prefix: '/api/v1', query_parameters: [{ name: 'debug', string_match: { exact: '1' } }] },
      direct_response: { status: 418, body: { inline_string: 'teapot' } },
    });
    assert.equal(rewrite?.['route'].prefix_rewrite, '/new');
    assert.equal(rewrite?.['route'].host_rewrite_literal, 'reviews.internal');
    assert.deepEqual(split?.['route'].weighted_clusters, {
      clusters: [
        { name: `outbound|9080|v1|${REVIEWS}`, weight: { value: 80 } },
        { name: `outbound|9080|v2|${REVIEWS}`, weight: { value: 20 } },
      ],
    });
    assertValid(TypeUrl.Route, { name: '9080', virtual_hosts: [{ name: `${REVIEWS}:9080`, domains: [REVIEWS], routes: built }] });
  });

  it('decides source matches for the caller: a rule for ratings reaches ratings only', () => {
    const ratings = buildPolicyRoutes(routes, ctx(ClientKind.Envoy, { caller: { namespace: 'bookinfo', labels: { app: 'ratings' } } }));
    assert.equal(ratings.length, 5);
    assert.equal((ratings[3] as Json).route.cluster, `outbound|9080|v3|${REVIEWS}`);
  });

  it('gives gRPC clients only what they honour: omitted rules left out, Envoy-only fields not sent', () => {
    const built = buildPolicyRoutes(routes, ctx(ClientKind.Grpc)) as Json[];
    // The header rule (method match), the direct response and the rewrite are not for gRPC.
    assert.equal(built.length, 1);
    const [split] = built;
    assert.deepEqual(split?.['match'], { safe_regex: { regex: '/reviews\\.Reviews(/.*)?' } });
    assert.deepEqual(split?.['route'], {
      weighted_clusters: { clusters: [{ name: `outbound|9080|v1|${REVIEWS}`, weight: { value: 80 } }, { name: `outbound|9080|v2|${REVIEWS}`, weight: { value: 20 } }] },
      hash_policy: [{ header: { header_name: 'x-user' } }],
      max_stream_duration: { max_stream_duration: { seconds: 2, nanos: 0 } },
      retry_policy: { retry_on: 'unavailable', num_retries: { value: 2 } },
    });
    assert.deepEqual(split?.['typed_per_filter_config']['envoy.filters.http.fault'].abort, { grpc_status: 14, percentage: { numerator: 1_000_000, denominator: 'MILLION' } });
    assertValid(TypeUrl.Route, buildRouteConfiguration('reviews:9080', REVIEWS, 9080, 'cluster.local', built));
  });

  it('routes a host without route policy to its cluster, with the DestinationRule hash key and (Envoy) the mesh default retries', () => {
    assert.deepEqual(buildDefaultRoute(REVIEWS, ctx(ClientKind.Envoy)), {
      match: { prefix: '/' },
      route: {
        cluster: `outbound|9080||${REVIEWS}`,
        hash_policy: [{ header: { header_name: 'x-user' } }],
        timeout: {},
        retry_policy: { retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes,reset-before-request', num_retries: { value: 2 }, retriable_status_codes: [503] },
      },
    });
    assert.deepEqual(buildDefaultRoute(REVIEWS, ctx(ClientKind.Grpc, { destinationFor: () => undefined })), { match: { prefix: '' }, route: { cluster: `outbound|9080||${REVIEWS}` } });
  });
});

describe('DestinationRule settings as clusters', () => {
  const port = { name: 'http', port: 9080, protocol: 'TCP' as const };
  const tuned: ClusterPolicy = {
    loadBalancer: { type: 'simple', algorithm: 'LEAST_REQUEST' },
    connectionPool: { maxConnections: 10, maxRequests: 20, maxRequestsPerConnection: 1, connectTimeoutMs: 250 },
    outlierDetection: { consecutive5xxErrors: 2, intervalMs: 1000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 },
    tlsMode: 'DISABLE',
    limits: { grpc: { omit: ['loadBalancer.simple: gRPC clients do not support LEAST_REQUEST'], ignored: [] } },
  };

  it('Envoy: a subset cluster with its own EDS name; the policy replaces the defaults; TLS off when the rule says so', () => {
    const cluster = buildSidecarOutboundCluster({ hostname: REVIEWS, port, subset: 'v1', serverSans: [{ exact: 'spiffe://td/ns/bookinfo/sa/reviews' }], policy: tuned }) as Json;
    assert.equal(cluster['name'], `outbound|9080|v1|${REVIEWS}`);
    assert.equal(cluster['eds_cluster_config'].service_name, `outbound|9080|v1|${REVIEWS}`);
    assert.equal(cluster['lb_policy'], 'LEAST_REQUEST');
    assert.deepEqual(cluster['circuit_breakers'], { thresholds: [{ max_connections: { value: 10 }, max_requests: { value: 20 } }] });
    assert.deepEqual(cluster['connect_timeout'], { seconds: 0, nanos: 250_000_000 });
    assert.deepEqual(cluster['outlier_detection'], { consecutive_5xx: { value: 2 }, interval: { seconds: 1, nanos: 0 }, base_ejection_time: { seconds: 30, nanos: 0 }, max_ejection_percent: { value: 50 } });
    assert.equal(cluster['transport_socket'], undefined);
    assert.deepEqual(cluster['typed_extension_protocol_options']['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].common_http_protocol_options, { max_requests_per_connection: { value: 1 } });
    assertValid(TypeUrl.Cluster, cluster);
  });

  it('gRPC: what it cannot honour is not sent (LEAST_REQUEST), what it can is (max requests, ring hash)', () => {
    const cluster = buildEdsCluster(REVIEWS, port, undefined, 'v1', tuned) as Json;
    assert.equal(cluster['lb_policy'], 'ROUND_ROBIN');
    assert.deepEqual(cluster['circuit_breakers'], { thresholds: [{ max_requests: { value: 20 } }] });
    assert.equal(cluster['outlier_detection'], undefined);
    const hashed = buildEdsCluster(REVIEWS, port, undefined, '', ringHash) as Json;
    assert.equal(hashed['lb_policy'], 'RING_HASH');
    assert.deepEqual(hashed['ring_hash_lb_config'], { minimum_ring_size: { value: 1024 } });
    assertValid(TypeUrl.Cluster, cluster);
    assertValid(TypeUrl.Cluster, hashed);
  });

  it('a subset holds the endpoints with all its labels; topology.istio.io/cluster selects by cluster', () => {
    const ep = (address: string, cluster: string, labels?: Record<string, string>) => ({ address, port: 9080, cluster, network: cluster, locality: { region: '', zone: '', subzone: '' }, health: 'HEALTHY', ...(labels ? { labels } : {}) }) as const;
    const all = [ep('10.0.0.1', 'east', { version: 'v1' }), ep('10.0.0.2', 'west', { version: 'v1' }), ep('10.0.0.3', 'east', { version: 'v2' }), ep('10.0.0.4', 'east')];
    const addresses = (labels: Readonly<Record<string, string>>) => subsetEndpoints(all as never, labels).map((e) => e.address);
    assert.deepEqual(addresses({ version: 'v1' }), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(addresses({ 'topology.istio.io/cluster': 'east' }), ['10.0.0.1', '10.0.0.3', '10.0.0.4']);
    assert.deepEqual(addresses({ version: 'v1', 'topology.istio.io/cluster': 'west' }), ['10.0.0.2']);
  });
});

describe('routes that leave the mesh', () => {
  const HTTPBIN = 'httpbin.external.test';
  const external = ctx(ClientKind.Envoy, { isExternal: (host) => host === HTTPBIN });
  const hostRoutes = (rules: HttpRouteRule[]): HostRoutes => ({ host: REVIEWS, source: source('spec'), tls: [], tcp: [], rules });
  const outside = { type: 'forward', targets: [{ host: HTTPBIN, weight: 100 }] } as const;

  it("a route (or a mirror) to a host outside the mesh turns the identity exchange off and drops the service header; the mesh's routes keep both", () => {
    const [away, mirrored, inside] = buildPolicyRoutes(
      hostRoutes([
        rule({ matches: [match({ uri: { prefix: '/out' } })], action: outside, headers: { request: { set: {}, add: {}, remove: ['x-debug'] } } }),
        rule({ matches: [match({ uri: { prefix: '/copy' } })], action: forward([undefined, 100]), mirrors: [{ target: { host: HTTPBIN }, percent: 100 }] }),
        rule({ action: forward([undefined, 100]) }),
      ]),
      external,
    ) as Json[];
    for (const r of [away, mirrored]) {
      assert.deepEqual(Object.keys(r?.['typed_per_filter_config'] ?? {}).sort(), ['meridian.peer_exchange.stamp', 'meridian.peer_exchange.take']);
      assert.ok((r?.['request_headers_to_remove'] as string[]).includes('x-meridian-peer-service'));
    }
    assert.deepEqual(away?.['request_headers_to_remove'], ['x-debug', 'x-meridian-peer-service'], "the rule's own removals kept");
    assert.equal(inside?.['typed_per_filter_config'], undefined);
    assert.equal(inside?.['request_headers_to_remove'], undefined);
    assertValid(TypeUrl.Route, { name: '80', virtual_hosts: [{ name: 'reviews', domains: ['*'], routes: [away, mirrored, inside] }] });
  });

  it('gRPC clients are sent no per-route exchange config (they run no such filters)', () => {
    const [route] = buildPolicyRoutes(hostRoutes([rule({ action: outside })]), ctx(ClientKind.Grpc, { isExternal: () => true })) as Json[];
    assert.equal(route?.['typed_per_filter_config'], undefined);
  });
});
