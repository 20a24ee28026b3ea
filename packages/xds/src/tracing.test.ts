/**
 * Tracing in what sidecars are sent: every connection manager of a traced direction carries
 * the workload's tracer, and sidecars alike but for their workload get the same listeners
 * but for `tracing` (built once, each workload's tracing appended to the bytes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_LOCALITY, Health, ProxyType, type Service, type TracingSettings } from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { MtlsMode } from './mtls.ts';
import { decodeMessage, encodeMessage } from './protos.ts';
import type { GeneratedResource } from './resource-source.ts';
import { StaticDiscovery, testPolicies, testProxy, validateAnyBytes } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';
import { withTracing } from './tracing.ts';
import { anyValue } from './wire.ts';
import { HCM_TYPE } from './xds-constants.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk decoded messages
type Json = Record<string, any>;

const ECHO = 'echo.demo.svc.cluster.local';
const echo: Service = { hostname: ECHO, name: 'echo', namespace: 'demo', ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }, { name: 'tcp', port: 9000, protocol: 'TCP' }], clusters: ['east'], addresses: { east: ['10.96.0.10'] }, serviceAccounts: ['echo'] };
const endpoint = (address: string, port: number, portName: string) => ({ address, port, portName, cluster: 'east', network: '', locality: EMPTY_LOCALITY, health: Health.Healthy, serviceAccount: 'echo' });
const SETTINGS: TracingSettings = { provider: 'otel', samplingPercent: 25, customTags: [{ tag: 'team', literal: 'payments' }] };

function resources(): MeshResources {
  const policies = testPolicies({
    telemetry: {
      accessLoggingFor: () => ({ client: [], server: [] }),
      // Only the server side of `traced` workloads, and the client side of every workload.
      tracingFor: (w) => ({ client: SETTINGS, ...(w.labels['app'] === 'traced' ? { server: SETTINGS } : {}) }),
    },
  });
  const addresses = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const discovery = new StaticDiscovery([echo], { [ECHO]: addresses.flatMap((a) => [endpoint(a, 18080, 'http'), endpoint(a, 19000, 'tcp')]) });
  return new MeshResources({
    discovery,
    domainSuffix: 'cluster.local',
    clusterLocalHosts: [],
    mtls: { mode: MtlsMode.Strict, trustDomain: 'mesh.test' },
    policies: () => policies,
    tracingProviders: [{ name: 'otel', service: '10.1.0.9', port: 4317 }],
  });
}

const sidecar = (address: string, app: string) => testProxy({ id: `sidecar~${address}~${app}-0.demo~demo.svc.cluster.local`, type: ProxyType.Sidecar, ipAddresses: [address], labels: { app } });

function listeners(r: MeshResources, proxy: ReturnType<typeof sidecar>): Map<string, Json> {
  const raw = r.generate(TypeUrl.Listener, proxy, undefined);
  for (const l of raw) {
    const verdict = validateAnyBytes(l.any);
    assert.deepEqual(verdict.ok ? [] : verdict.errors, [], `${l.name} passes Envoy's validation rules`);
  }
  return new Map(raw.map((l: GeneratedResource) => [l.name, decodeMessage(TypeUrl.Listener, anyValue(l.any)) as Json]));
}

/** Every connection manager of a listener, by chain name. */
function managers(listener: Json): Map<string, Json> {
  return new Map(
    (listener['filter_chains'] as Json[]).flatMap((c) => (c['filters'] as Json[]).filter((f) => f['name'] === 'envoy.filters.network.http_connection_manager').map((f) => [c['name'] ?? '', f['typed_config']] as const)),
  );
}

describe('tracing on sidecars', () => {
  it("every connection manager of a traced direction carries the workload's tracer, service name and own-side tags", () => {
    const r = resources();
    const byName = listeners(r, sidecar('10.0.0.1', 'traced'));
    const outbound = [...managers(byName.get('0.0.0.0_8080') ?? {}).values()];
    const inbound = [...managers(byName.get('virtualInbound') ?? {}).values()];
    assert.ok(outbound.length >= 1 && inbound.length >= 1);
    for (const [hcm, own, cluster] of [...outbound.map((h) => [h, 'source', 'east'] as const), ...inbound.map((h) => [h, 'destination', 'east'] as const)]) {
      const tracing = hcm['tracing'] as Json;
      assert.equal(tracing['provider']['typed_config']['service_name'], 'traced.demo');
      assert.equal(tracing['provider']['typed_config']['grpc_service']['envoy_grpc']['cluster_name'], 'telemetry|otel');
      assert.equal(tracing['random_sampling']['value'], 25);
      const tags = Object.fromEntries((tracing['custom_tags'] as Json[]).map((t) => [t['tag'], t['literal']?.['value']]));
      assert.deepEqual(tags, { [`${own}_cluster`]: cluster, [`${own}_namespace`]: 'demo', team: 'payments' });
    }
  });

  it('an untraced direction has no tracer; the TCP chains are untouched', () => {
    const byName = listeners(resources(), sidecar('10.0.0.2', 'plain'));
    const inbound = [...managers(byName.get('virtualInbound') ?? {}).values()];
    const outbound = [...managers(byName.get('0.0.0.0_8080') ?? {}).values()];
    assert.ok(inbound.length >= 1 && outbound.length >= 1);
    for (const hcm of inbound) assert.equal(hcm['tracing'], undefined);
    for (const hcm of outbound) assert.equal(hcm['tracing']['provider']['typed_config']['service_name'], 'plain.demo');
    const tcp = (byName.get('virtualInbound')?.['filter_chains'] as Json[]).flatMap((c) => c['filters'] as Json[]).filter((f) => f['name'] === 'envoy.filters.network.tcp_proxy');
    assert.ok(tcp.length > 0);
  });

  it('two workloads alike but for their name get the same listeners but for the tracer', () => {
    const r = resources();
    const untraced = (l: Json) => {
      for (const hcm of managers(l).values()) delete hcm['tracing'];
      return l;
    };
    const a = listeners(r, sidecar('10.0.0.1', 'traced'));
    const b = listeners(r, sidecar('10.0.0.3', 'traced-too'));
    assert.notDeepEqual(a.get('0.0.0.0_8080'), b.get('0.0.0.0_8080'));
    assert.deepEqual(untraced(a.get('0.0.0.0_8080') ?? {}), untraced(b.get('0.0.0.0_8080') ?? {}));
  });

  it('withTracing reads back as the connection managers with tracing set, every other field as it was', () => {
    const hcm = (extra: object) => ({ '@type': HCM_TYPE, stat_prefix: 'p', codec_type: 'AUTO', rds: { route_config_name: 'r', config_source: { ads: {}, resource_api_version: 'V3' } }, ...extra });
    const tracing = { random_sampling: { value: 5 }, custom_tags: [{ tag: 't', literal: { value: 'v' } }] };
    const listener = (extra: object) => ({
      name: 'l',
      address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
      filter_chains: [
        { name: 'a', filter_chain_match: { destination_port: { value: 80 } }, filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(extra) }] },
        { name: 'b', filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' } }] },
      ],
      default_filter_chain: { filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(extra) }] },
    });
    const field = encodeMessage(HCM_TYPE, { tracing });
    const spliced = withTracing(encodeMessage(TypeUrl.Listener, listener({})), field);
    assert.deepEqual(decodeMessage(TypeUrl.Listener, spliced), decodeMessage(TypeUrl.Listener, encodeMessage(TypeUrl.Listener, listener({ tracing }))));
  });
});
