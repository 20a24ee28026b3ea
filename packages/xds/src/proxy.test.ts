import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protoType } from './protos.ts';
import { proxyFromNode, type NodeMessage } from './proxy.ts';

const defaults = { cluster: 'primary', networkOf: (c: string) => `net-${c}` };

/** A node as it arrives: encoded by a client, decoded the way the ADS server decodes it. */
function wireNode(node: object): NodeMessage {
  const request = protoType('envoy.service.discovery.v3.DiscoveryRequest');
  const bytes = request.encode(request.fromObject({ node })).finish();
  const decoded = request.toObject(request.decode(bytes), { longs: String, enums: String, defaults: true, oneofs: true });
  return decoded['node'] as NodeMessage;
}

const struct = (values: Record<string, unknown>) => ({
  fields: Object.fromEntries(
    Object.entries(values).map(([k, v]) => [
      k,
      typeof v === 'string'
        ? { stringValue: v }
        : { structValue: { fields: Object.fromEntries(Object.entries(v as Record<string, string>).map(([a, b]) => [a, { stringValue: b }])) } },
    ]),
  ),
});

describe('proxyFromNode', () => {
  it('reads Istio metadata keys from a node that crossed the wire', () => {
    const p = proxyFromNode(
      wireNode({
        id: 'sidecar~10.1.2.3~echo-0.demo~demo.svc.cluster.local',
        locality: { region: 'r', zone: 'z', sub_zone: 's' },
        metadata: struct({ CLUSTER_ID: 'west', NETWORK: 'n2', SERVICE_ACCOUNT: 'echo', LABELS: { app: 'echo' } }),
      }),
      defaults,
    );
    assert.equal(p.type, 'sidecar');
    assert.equal(p.cluster, 'west');
    assert.equal(p.network, 'n2');
    assert.equal(p.namespace, 'demo');
    assert.equal(p.serviceAccount, 'echo');
    assert.deepEqual(p.labels, { app: 'echo' });
    assert.deepEqual(p.locality, { region: 'r', zone: 'z', subzone: 's' });
    assert.deepEqual(p.ipAddresses, ['10.1.2.3']);
  });

  it('treats any other id as proxyless gRPC and falls back to the defaults', () => {
    const p = proxyFromNode(wireNode({ id: 'my-grpc-client' }), defaults);
    assert.equal(p.type, 'grpc');
    assert.equal(p.cluster, 'primary');
    assert.equal(p.network, 'net-primary', 'network of the proxy cluster');
    assert.equal(p.namespace, 'default');
  });

  it('takes NAMESPACE from metadata over the id', () => {
    const p = proxyFromNode(wireNode({ id: 'x', metadata: struct({ NAMESPACE: 'team-a', CLUSTER_ID: 'c9' }) }), defaults);
    assert.equal(p.namespace, 'team-a');
    assert.equal(p.network, 'net-c9');
  });
});
