import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// Shape only: this package does not depend on grpc-js-xds. test/e2e/grpc-mtls.test.ts runs
// these bootstraps through its parser and a real XdsServer.
import { grpcBootstrap } from './bootstrap.ts';

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
