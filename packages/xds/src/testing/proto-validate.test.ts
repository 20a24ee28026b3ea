import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { buildApiListener, buildEdsCluster, buildInboundListener, buildRouteConfiguration } from '../grpc-resources.ts';
import { loadSidecarProtos } from '../envoy-protos.ts';
import { validateEncoded, validateMessage } from './proto-validate.ts';
import { encodeMessage } from '../protos.ts';
import { TypeUrl } from '../type-url.ts';

loadSidecarProtos();

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
const ADS = { ads: {}, resource_api_version: 'V3' };

const goodCluster = {
  name: 'outbound|80||a.b.svc.cluster.local',
  type: 'EDS',
  eds_cluster_config: { eds_config: ADS },
  connect_timeout: { seconds: 1 },
};
const hcm = (over: object = {}) => ({
  '@type': HCM,
  stat_prefix: 'x',
  rds: { route_config_name: '80', config_source: ADS },
  http_filters: [ROUTER],
  ...over,
});
const listener = (chains: object[]) => ({
  name: 'l',
  address: { socket_address: { address: '0.0.0.0', port_value: 15001 } },
  filter_chains: chains,
});

/** Encoded, then validated: the rules are checked on what goes over the wire. */
const check = (typeUrl: string, value: object) => validateEncoded(typeUrl, encodeMessage(typeUrl, value));
const errorsOf = (r: ReturnType<typeof check>) => (r.ok ? [] : r.errors.map((e) => e.replace(/ \(.*\)$/, '')));

describe('validate.rules from Envoy protos', () => {
  const cases: Array<{ name: string; typeUrl: string; value: object; errors: string[] }> = [
    { name: 'a good cluster', typeUrl: TypeUrl.Cluster, value: goodCluster, errors: [] },
    { name: 'empty cluster name', typeUrl: TypeUrl.Cluster, value: { ...goodCluster, name: '' }, errors: ['name: string.min_len'] },
    { name: 'zero connect_timeout', typeUrl: TypeUrl.Cluster, value: { ...goodCluster, connect_timeout: {} }, errors: ['connect_timeout: duration.gt'] },
    { name: 'undefined lb_policy', typeUrl: TypeUrl.Cluster, value: { ...goodCluster, lb_policy: 42 }, errors: ['lb_policy: enum.defined_only'] },
    {
      name: 'wrapper over its bound',
      typeUrl: TypeUrl.Cluster,
      value: { ...goodCluster, outlier_detection: { max_ejection_percent: { value: 101 } } },
      errors: ['outlier_detection.max_ejection_percent.value: uint32.lte'],
    },
    {
      name: 'outlier interval of zero',
      typeUrl: TypeUrl.Cluster,
      value: { ...goodCluster, outlier_detection: { interval: { seconds: 0 } } },
      errors: ['outlier_detection.interval: duration.gt'],
    },
    {
      name: 'socket address without a port (oneof required)',
      typeUrl: TypeUrl.Listener,
      value: { name: 'l', address: { socket_address: { address: '0.0.0.0' } } },
      errors: ['address.socket_address.port_specifier: oneof.required'],
    },
    {
      name: 'address with an empty host',
      typeUrl: TypeUrl.Listener,
      value: { name: 'l', address: { socket_address: { address: '', port_value: 1 } } },
      errors: ['address.socket_address.address: string.min_len'],
    },
    {
      name: 'nameless filter deep in a chain',
      typeUrl: TypeUrl.Listener,
      value: listener([{ filters: [{ name: 'a', typed_config: hcm() }] }, { filters: [{ name: '', typed_config: hcm() }] }]),
      errors: ['filter_chains[1].filters[0].name: string.min_len'],
    },
    {
      name: 'inside an Any, by its type URL',
      typeUrl: TypeUrl.Listener,
      value: listener([{ filters: [{ name: 'hcm', typed_config: hcm({ stat_prefix: '' }) }] }]),
      errors: ['filter_chains[0].filters[0].typed_config.stat_prefix: string.min_len'],
    },
    {
      name: 'message.required inside an Any',
      typeUrl: TypeUrl.Listener,
      value: listener([{ filters: [{ name: 'hcm', typed_config: hcm({ rds: { route_config_name: '80' } }) }] }]),
      errors: ['filter_chains[0].filters[0].typed_config.rds.config_source: message.required'],
    },
    {
      name: 'HCM without route specifier (oneof required)',
      typeUrl: TypeUrl.Listener,
      value: listener([{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, stat_prefix: 'x', http_filters: [ROUTER] } }] }]),
      errors: ['filter_chains[0].filters[0].typed_config.route_specifier: oneof.required'],
    },
    {
      name: 'virtual host without domains',
      typeUrl: TypeUrl.Route,
      value: { name: 'r', virtual_hosts: [{ name: 'vh', domains: [] }] },
      errors: ['virtual_hosts[0].domains: repeated.min_items'],
    },
    {
      name: 'repeated items rule (header value with a newline)',
      typeUrl: TypeUrl.Route,
      value: { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['ok', 'bad\nvalue'] }] },
      errors: ['virtual_hosts[0].domains[1]: string.well_known_regex'],
    },
    {
      name: 'route without an action cluster name',
      typeUrl: TypeUrl.Route,
      value: { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: '' } }] }] },
      errors: ['virtual_hosts[0].routes[0].route.cluster: string.min_len'],
    },
    {
      name: 'route match without a path specifier',
      typeUrl: TypeUrl.Route,
      value: { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: {}, route: { cluster: 'c' } }] }] },
      errors: ['virtual_hosts[0].routes[0].match.path_specifier: oneof.required'],
    },
    {
      name: 'endpoint port over 65535',
      typeUrl: TypeUrl.Endpoint,
      value: {
        cluster_name: 'c',
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 70000 } } } }] }],
      },
      errors: ['endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: uint32.lte'],
    },
    {
      name: 'overprovisioning factor of zero',
      typeUrl: TypeUrl.Endpoint,
      value: { cluster_name: 'c', policy: { overprovisioning_factor: { value: 0 } } },
      errors: ['policy.overprovisioning_factor.value: uint32.gt'],
    },
    {
      name: 'SAN matcher without its matcher (message.required in a TLS context)',
      typeUrl: TypeUrl.Cluster,
      value: {
        ...goodCluster,
        transport_socket: {
          name: 'tls',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
            common_tls_context: { validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI' }] } },
          },
        },
      },
      errors: ['transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher: message.required'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(errorsOf(check(c.typeUrl, c.value)), c.errors);
    });
  }

  it('errors carry the limit and the value', () => {
    const r = check(TypeUrl.Cluster, { ...goodCluster, name: '' });
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : r.errors, ['name: string.min_len (want >= 1, got 0)']);
  });

  it("accepts what the proxyless gRPC builders produce", () => {
    const port = { name: 'grpc', port: 7070, protocol: 'TCP' as const };
    const resources: Array<[string, object]> = [
      [TypeUrl.Listener, buildApiListener('echo:7070')],
      [TypeUrl.Listener, buildInboundListener('xds.istio.io/grpc/lds/inbound/10.0.0.1:7070', '10.0.0.1', 7070, true)],
      [TypeUrl.Route, buildRouteConfiguration('echo:7070', 'echo.demo.svc.cluster.local', 7070, 'cluster.local', [{ match: { prefix: '' }, route: { cluster: 'outbound|7070||echo.demo.svc.cluster.local' } }])],
      [TypeUrl.Cluster, buildEdsCluster('echo.demo.svc.cluster.local', port, [{ exact: 'spiffe://td/ns/demo/sa/echo' }])],
    ];
    for (const [typeUrl, value] of resources) assert.deepEqual(errorsOf(check(typeUrl, value)), [], typeUrl);
  });

  describe('rules the resources above do not reach (hand-made types)', () => {
    // Custom options are parsed as text, so a small .proto exercises any rule without Envoy.
    const root = new protobuf.Root();
    for (const file of ['google/protobuf/any.proto', 'google/protobuf/duration.proto']) {
      const json = protobuf.common.get(file);
      if (json) root.addJSON(json.nested ?? {});
    }
    protobuf.parse(
      `syntax = "proto3";
       import "google/protobuf/any.proto";
       import "google/protobuf/duration.proto";
       message T {
         string p = 1 [(validate.rules).string.prefix = "spiffe://"];
         string re = 2 [(validate.rules).string.pattern = "^a+$"];
         google.protobuf.Any any = 3 [(validate.rules).any.required = true];
         google.protobuf.Duration d = 4 [(validate.rules).duration = {required: true, gte {seconds: 1}}];
         int64 big = 5 [(validate.rules).int64 = {gt: 0, lte: 9007199254740992}];
         string ip = 6 [(validate.rules).string.ip = true];
         repeated string u = 7 [(validate.rules).repeated = {unique: true, max_items: 3}];
         string mb = 8 [(validate.rules).string.min_bytes = 2];
       }`,
      root,
      { keepCase: true },
    );
    root.resolveAll();
    const T = root.lookupType('T');
    const good = { p: 'spiffe://x', re: 'a', any: { '@type': 'type.googleapis.com/google.protobuf.Duration', seconds: '1' }, d: { seconds: '2' }, big: '9007199254740992', ip: '10.0.0.1', u: ['a', 'b'], mb: 'ab' };

    it('passes a good value, and names the rules it could not check', () => {
      const r = validateMessage(T, good);
      assert.equal(r.ok, true);
      assert.deepEqual(r.unchecked, ['re: string.pattern']);
    });

    const bad: Array<[string, object, string]> = [
      ['prefix', { p: 'http://x' }, 'p: string.prefix'],
      ['any.required', { any: undefined }, 'any: any.required'],
      ['duration.required', { d: undefined }, 'd: duration.required'],
      ['duration.gte', { d: { nanos: 5 } }, 'd: duration.gte'],
      ['int64 beyond 2^53 compared exactly', { big: '9007199254740993' }, 'big: int64.lte'],
      ['int64.gt', { big: '0' }, 'big: int64.gt'],
      ['ip', { ip: 'not-an-ip' }, 'ip: string.ip'],
      ['repeated.unique', { u: ['a', 'a'] }, 'u: repeated.unique'],
      ['repeated.max_items', { u: ['a', 'b', 'c', 'd'] }, 'u: repeated.max_items'],
      ['min_bytes counts UTF-8 bytes', { mb: 'a' }, 'mb: string.min_bytes'],
    ];
    for (const [name, over, error] of bad) {
      it(name, () => {
        assert.deepEqual(errorsOf(validateMessage(T, { ...good, ...over })), [error]);
      });
    }
  });
});
