/**
 * Istio's workload metrics in what sidecars are sent: the stats loggers and the identity
 * exchange on each chain, who believes a peer's headers, what a workload emitting nothing
 * keeps, and that sidecars alike share listeners while a Telemetry tells them apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_WORKLOAD_METRICS, EMPTY_LOCALITY, Health, PeerMtlsMode, ProxyType, type Service } from '@meridian/model';
import { MeshResources } from './mesh-resources.ts';
import { MtlsMode } from './mtls.ts';
import { decodeMessage, protoType } from './protos.ts';
import type { GeneratedResource } from './resource-source.ts';
import { StaticDiscovery, testPolicies, testProxy, validateAnyBytes } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk decoded messages
type Json = Record<string, any>;

const ECHO = 'echo.demo.svc.cluster.local';
const echo: Service = { hostname: ECHO, name: 'echo', namespace: 'demo', ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }], clusters: ['east'], addresses: { east: ['10.96.0.10'] }, serviceAccounts: ['echo'] };
const pod = (address: string) => ({ address, port: 18080, portName: 'http', cluster: 'east', network: '', locality: EMPTY_LOCALITY, health: Health.Healthy, serviceAccount: 'echo' });

function resources(mode: PeerMtlsMode): MeshResources {
  const policies = testPolicies({
    peerAuthentications: { modeFor: () => ({ mode, source: { kind: 'PeerAuthentication', namespace: 'demo', name: 'default', path: 'spec' } }) },
    telemetry: {
      accessLoggingFor: () => ({ client: [], server: [] }),
      tracingFor: () => ({}),
      // Pods labelled quiet emit nothing at all; tagged ones edit the client's request count labels.
      metricsFor: (w) =>
        w.labels['app'] === 'quiet'
          ? { client: { disabled: ALL_WORKLOAD_METRICS }, server: { disabled: ALL_WORKLOAD_METRICS } }
          : w.labels['app'] === 'tagged'
            ? { client: { disabled: [], tags: { REQUEST_COUNT: { request_host: 'request.host', request_protocol: null } } }, server: { disabled: [] } }
            : { client: { disabled: [] }, server: { disabled: [] } },
    },
  });
  const discovery = new StaticDiscovery([echo], { [ECHO]: [pod('10.0.0.1'), pod('10.0.0.2'), pod('10.0.0.3')] });
  return new MeshResources({ discovery, domainSuffix: 'cluster.local', clusterLocalHosts: [], mtls: { mode: MtlsMode.Strict, trustDomain: 'mesh.test' }, policies: () => policies });
}

const sidecar = (address: string, app: string) => testProxy({ id: `sidecar~${address}~${app}-0.demo~demo.svc.cluster.local`, type: ProxyType.Sidecar, ipAddresses: [address], labels: { app } });

function listeners(r: MeshResources, proxy: ReturnType<typeof sidecar>): { raw: GeneratedResource[]; byName: Map<string, Json> } {
  const raw = r.generate(TypeUrl.Listener, proxy, undefined);
  for (const l of raw) {
    const verdict = validateAnyBytes(l.any);
    assert.deepEqual(verdict.ok ? [] : verdict.errors, [], `${l.name} passes Envoy's validation rules`);
  }
  const decode = (l: GeneratedResource) => decodeMessage(TypeUrl.Listener, (protoType('google.protobuf.Any').decode(l.any) as unknown as { value: Uint8Array }).value) as Json;
  return { raw, byName: new Map(raw.map((l) => [l.name, decode(l)])) };
}

/** An inbound chain's HTTP filter names and access-logger names, by chain name. */
function inboundChains(l: Json): Map<string, { filters: string[]; loggers: string[] }> {
  return new Map(
    (l['filter_chains'] as Json[])
      .filter((c) => c['filters'][0]['name'] === 'envoy.filters.network.http_connection_manager')
      .map((c) => {
        const hcm = c['filters'][0]['typed_config'];
        return [c['name'], { filters: hcm['http_filters'].map((f: Json) => f['name']), loggers: (hcm['access_log'] ?? []).map((a: Json) => a['name']) }];
      }),
  );
}

describe('workload metrics in sidecar listeners', () => {
  it('every HTTP manager logs the metrics and runs the exchange; a plaintext caller beside mTLS ones is only stripped', () => {
    const { byName } = listeners(resources(PeerMtlsMode.Permissive), sidecar('10.0.0.1', 'echo'));
    const outbound = byName.get('0.0.0.0_8080')?.['filter_chains'].find((c: Json) => c['name'].endsWith('-http'))['filters'][0]['typed_config'];
    assert.deepEqual(outbound['http_filters'].slice(0, 2).map((f: Json) => f['name']), ['meridian.peer_exchange.stamp', 'meridian.peer_exchange.take']);
    assert.deepEqual(outbound['access_log'].map((a: Json) => a['name']), ['envoy.access_loggers.stats']);
    const chains = inboundChains(byName.get('virtualInbound') ?? {});
    const tls = chains.get('inbound|18080||');
    const plaintext = chains.get('inbound|18080||-plaintext');
    assert.deepEqual(tls?.filters.slice(0, 2), ['meridian.peer_exchange.stamp', 'meridian.peer_exchange.take']);
    assert.deepEqual(plaintext?.filters[0], 'meridian.peer_exchange.take');
    assert.ok(!plaintext?.filters.includes('meridian.peer_exchange.stamp'), 'nothing told to a caller that proved nothing');
    const strip = (byName.get('virtualInbound')?.['filter_chains'] as Json[]).find((c) => c['name'] === 'inbound|18080||-plaintext')?.['filters'][0]['typed_config']['http_filters'][0]['typed_config'];
    assert.deepEqual(strip['mutations']['request_mutations'].map((m: Json) => m['remove']), ['x-meridian-peer-cluster', 'x-meridian-peer-namespace', 'x-meridian-peer-workload', 'x-meridian-peer-service']);
    assert.deepEqual(tls?.loggers, ['envoy.access_loggers.stats']);
  });

  it('sidecars alike share their listeners; a Telemetry turning a workload\'s metrics off gives it its own, which still strips', () => {
    const r = resources(PeerMtlsMode.Strict);
    const a = listeners(r, sidecar('10.0.0.1', 'echo'));
    const b = listeners(r, sidecar('10.0.0.2', 'echo'));
    assert.equal(a.raw, b.raw, 'one answer for both: nothing in it names the workload');
    const quiet = listeners(r, sidecar('10.0.0.3', 'quiet'));
    assert.notEqual(quiet.raw, a.raw);
    const inbound = inboundChains(quiet.byName.get('virtualInbound') ?? {}).get('inbound|18080||');
    assert.deepEqual(inbound?.loggers, []);
    assert.equal(inbound?.filters[0], 'meridian.peer_exchange.take', 'the peer\'s headers still never reach the application');
    assert.ok(!inbound?.filters.includes('meridian.peer_exchange.stamp'));
  });

  it("tagOverrides edit one metric's labels: an added one is Envoy's CEL over the expression, a removed one is gone; the other metrics keep Istio's", () => {
    const { byName } = listeners(resources(PeerMtlsMode.Strict), sidecar('10.0.0.1', 'tagged'));
    const hcm = byName.get('0.0.0.0_8080')?.['filter_chains'].find((c: Json) => c['name'].endsWith('-http'))['filters'][0]['typed_config'];
    const stats = hcm['access_log'].find((a: Json) => a['name'] === 'envoy.access_loggers.stats')['typed_config'];
    const tagsOf = (stat: Json) => Object.fromEntries((stat['stat']['tags'] as Json[]).map((t) => [t['name'], t['value_format']]));
    const count = tagsOf(stats['counters'].find((c: Json) => c['stat']['name'] === 'requests_total'));
    assert.equal(count['request_host'], '%CEL(request.host)%');
    assert.ok(!('request_protocol' in count));
    assert.equal(count['response_code'], '%RESPONSE_CODE%');
    const duration = tagsOf(stats['histograms'].find((h: Json) => h['stat']['name'] === 'request_duration_milliseconds'));
    assert.equal(duration['request_protocol'], '%PROTOCOL%');
    assert.ok(!('request_host' in duration));
    // The server side is untouched.
    const inbound = (byName.get('virtualInbound')?.['filter_chains'] as Json[]).find((c) => c['name'] === 'inbound|18080||')?.['filters'][0]['typed_config'];
    const served = inbound['access_log'].find((a: Json) => a['name'] === 'envoy.access_loggers.stats')['typed_config'];
    assert.equal(tagsOf(served['counters'].find((c: Json) => c['stat']['name'] === 'requests_total'))['request_protocol'], '%PROTOCOL%');
  });
});
