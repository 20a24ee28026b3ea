import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// Shape only for gRPC: this package does not depend on grpc-js-xds. test/e2e/grpc-mtls.test.ts runs
// these bootstraps through its parser and a real XdsServer.
import { encodeMessage, loadSidecarProtos } from '@meridian/xds';
import { validateEncoded } from '@meridian/xds/testing';
import { envoyBootstrap, grpcBootstrap } from './bootstrap.ts';

describe('grpcBootstrap', () => {
  it('without a cert dir: plaintext, no certificate providers, node metadata and locality', () => {
    const doc = grpcBootstrap({ nodeId: 'n1', server: 'meridian:15010', cluster: 'east', namespace: 'demo', locality: 'us-east/us-east-1a' });
    assert.deepEqual(doc, {
      xds_servers: [{ server_uri: 'meridian:15010', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id: 'n1', locality: { region: 'us-east', zone: 'us-east-1a', sub_zone: '' }, metadata: { CLUSTER_ID: 'east', NAMESPACE: 'demo' } },
    });
  });

  it('with a cert dir: a file_watcher provider named as the TLS contexts expect, and the server listener template', () => {
    const doc = grpcBootstrap({ nodeId: 'n1', server: 'meridian:15010', certDir: '/var/run/certs' }) as Record<string, unknown>;
    assert.deepEqual(doc['certificate_providers'], {
      default: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: '/var/run/certs/cert-chain.pem',
          private_key_file: '/var/run/certs/key.pem',
          ca_certificate_file: '/var/run/certs/root-cert.pem',
          refresh_interval: '60s',
        },
      },
    });
    assert.equal(doc['server_listener_resource_name_template'], 'xds.istio.io/grpc/lds/inbound/%s');
    assert.deepEqual((doc['xds_servers'] as Array<{ server_features: string[] }>)[0]?.server_features, ['xds_v3', 'ignore_resource_deletion']);
  });
});

describe('envoyBootstrap', () => {
  /** The bootstrap as Envoy's own protos see it, checked by their validate.rules. */
  function validate(doc: object): string[] {
    // Proto3 JSON spells a Duration as "1.5s"; protobufjs wants {seconds, nanos}.
    const json = JSON.parse(JSON.stringify(doc), (_key, value: unknown) => {
      if (typeof value !== 'string' || !/^\d+(\.\d+)?s$/.test(value)) return value;
      const seconds = Number(value.slice(0, -1));
      return { seconds: Math.trunc(seconds), nanos: Math.round((seconds % 1) * 1e9) };
    }) as object;
    loadSidecarProtos();
    const typeUrl = 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap';
    const result = validateEncoded(typeUrl, encodeMessage(typeUrl, json));
    return result.ok ? [] : [...result.errors];
  }

  it('plaintext: ADS over gRPC v3 to Meridian, LDS/CDS from ADS, admin on loopback, node in Istio form', () => {
    const doc = envoyBootstrap({
      nodeId: 'sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local',
      server: 'meridian.istio-system.svc:15010',
      cluster: 'east',
      network: 'east-net',
      namespace: 'demo',
      serviceAccount: 'echo',
      labels: { app: 'echo' },
      locality: 'us-east/us-east-1a',
    }) as Record<string, Record<string, unknown>>;
    assert.deepEqual(doc['node'], {
      id: 'sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local',
      cluster: 'demo',
      locality: { region: 'us-east', zone: 'us-east-1a', sub_zone: '' },
      metadata: { CLUSTER_ID: 'east', NETWORK: 'east-net', NAMESPACE: 'demo', SERVICE_ACCOUNT: 'echo', LABELS: { app: 'echo' }, WORKLOAD_NAME: 'echo' },
    });
    assert.deepEqual(doc['dynamic_resources'], {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        // Back within 5 s of Meridian's return, not Envoy's default of up to 30 s.
        grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc', retry_policy: { retry_back_off: { base_interval: '0.5s', max_interval: '5s' } } } }],
      },
      lds_config: { ads: {}, resource_api_version: 'V3' },
      cds_config: { ads: {}, resource_api_version: 'V3' },
    });
    const [xds] = (doc['static_resources']?.['clusters'] ?? []) as Array<Record<string, unknown>>;
    assert.equal(xds?.['name'], 'xds-grpc');
    assert.equal(xds?.['transport_socket'], undefined);
    assert.deepEqual(
      (xds?.['load_assignment'] as { endpoints: Array<{ lb_endpoints: Array<{ endpoint: unknown }> }> }).endpoints[0]?.lb_endpoints[0]?.endpoint,
      { address: { socket_address: { address: 'meridian.istio-system.svc', port_value: 15010 } } },
    );
    // gRPC needs HTTP/2 to Meridian; pings find a connection to a Meridian that vanished.
    assert.deepEqual(
      (xds?.['typed_extension_protocol_options'] as Record<string, { explicit_http_config: unknown }>)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.explicit_http_config,
      { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '10s' } } },
    );
    assert.deepEqual(doc['admin'], { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } });
    assert.deepEqual(validate(doc), []);
  });

  it('--tls: 15012 by default, the SVID files as client certificate, Meridian checked by its DNS SAN', () => {
    const doc = envoyBootstrap({
      nodeId: 'sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local',
      server: 'meridian.istio-system.svc',
      tls: { certDir: '/etc/certs', serverName: 'meridian.istio-system.svc' },
    });
    const text = JSON.stringify(doc);
    assert.ok(text.includes('"port_value":15012'));
    for (const file of ['/etc/certs/cert-chain.pem', '/etc/certs/key.pem', '/etc/certs/root-cert.pem']) assert.ok(text.includes(file), file);
    assert.ok(text.includes('"sni":"meridian.istio-system.svc"'));
    assert.ok(text.includes('"san_type":"DNS"'));
    assert.deepEqual(validate(doc), []);
  });

  it('the validator catches a broken bootstrap (so the checks above mean something)', () => {
    const doc = envoyBootstrap({ nodeId: 'n', server: 'm:15010' }) as Record<string, unknown>;
    assert.deepEqual(validate({ ...doc, admin: { address: { socket_address: { address: '', port_value: 15000 } } } }), [
      'admin.address.socket_address.address: string.min_len (want >= 1, got 0)',
    ]);
  });
});
