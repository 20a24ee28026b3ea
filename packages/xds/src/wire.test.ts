import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeMessage, protoType } from './protos.ts';
import { TypeUrl } from './type-url.ts';
import { encodeAny, encodeDeltaDiscoveryResponse, encodeDiscoveryResponse } from './wire.ts';

describe('hand-assembled DiscoveryResponse', () => {
  it('decodes with protobufjs to the same fields, resources intact', () => {
    const clusters = Array.from({ length: 3 }, (_, i) =>
      encodeAny(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, { name: `c${i}`, type: 'EDS', connect_timeout: { seconds: i + 1 } })),
    );
    const bytes = encodeDiscoveryResponse({ versionInfo: 'v-1', typeUrl: TypeUrl.Cluster, nonce: 'n-9', resources: clusters });
    const response = protoType('envoy.service.discovery.v3.DiscoveryResponse');
    const decoded = response.toObject(response.decode(bytes), { longs: String, enums: String }) as {
      version_info: string;
      type_url: string;
      nonce: string;
      resources: Array<{ type_url: string; value: Uint8Array }>;
    };
    assert.equal(decoded.version_info, 'v-1');
    assert.equal(decoded.type_url, TypeUrl.Cluster);
    assert.equal(decoded.nonce, 'n-9');
    assert.equal(decoded.resources.length, 3);
    const cluster = protoType('envoy.config.cluster.v3.Cluster');
    decoded.resources.forEach((any, i) => {
      assert.equal(any.type_url, TypeUrl.Cluster);
      const c = cluster.toObject(cluster.decode(any.value), { longs: String, enums: String }) as { name: string; connect_timeout: { seconds: string } };
      assert.equal(c.name, `c${i}`);
      assert.equal(c.connect_timeout.seconds, String(i + 1));
    });
  });

  it('encodes large resources (multi-byte lengths) and empty fields', () => {
    const big = encodeAny(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, { name: 'x'.repeat(70_000) }));
    const bytes = encodeDiscoveryResponse({ versionInfo: '', typeUrl: TypeUrl.Cluster, nonce: '', resources: [big] });
    const response = protoType('envoy.service.discovery.v3.DiscoveryResponse');
    const decoded = response.toObject(response.decode(bytes)) as { version_info?: string; resources: Array<{ value: Uint8Array }> };
    assert.equal(decoded.version_info ?? '', '');
    assert.equal(decoded.resources[0]?.value.length, big.length - (big.length - (decoded.resources[0]?.value.length ?? 0)));
    const cluster = protoType('envoy.config.cluster.v3.Cluster');
    const c = cluster.toObject(cluster.decode(decoded.resources[0]?.value ?? new Uint8Array())) as { name: string };
    assert.equal(c.name.length, 70_000);
  });

  it('produces exactly what protobufjs would encode for the same message', () => {
    const any = encodeAny(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, { name: 'a' }));
    const ours = encodeDiscoveryResponse({ versionInfo: 'v', typeUrl: TypeUrl.Cluster, nonce: '1', resources: [any] });
    const response = protoType('envoy.service.discovery.v3.DiscoveryResponse');
    const anyType = protoType('google.protobuf.Any');
    const theirs = response
      .encode(
        response.fromObject({
          version_info: 'v',
          resources: [anyType.toObject(anyType.decode(any))],
          type_url: TypeUrl.Cluster,
          nonce: '1',
        }),
      )
      .finish();
    assert.deepEqual(Buffer.from(ours), Buffer.from(theirs));
  });
});

describe('hand-assembled DeltaDiscoveryResponse', () => {
  const response = protoType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const anyType = protoType('google.protobuf.Any');
  const cla = (name: string, size = 0) =>
    encodeAny(TypeUrl.Endpoint, encodeMessage(TypeUrl.Endpoint, { cluster_name: name, policy: { overprovisioning_factor: { value: size } } }));

  it('decodes with protobufjs: per-resource name, version and Any, removals, nonce', () => {
    const bytes = encodeDeltaDiscoveryResponse({
      systemVersionInfo: 'sys-1',
      typeUrl: TypeUrl.Endpoint,
      nonce: 'd-3',
      resources: [
        { name: 'a', version: 'va', any: cla('a') },
        { name: 'b', version: 'vb', any: cla('b', 140) },
      ],
      removedResources: ['gone-1', 'gone-2'],
    });
    const decoded = response.toObject(response.decode(bytes), { longs: String, enums: String }) as {
      system_version_info: string;
      type_url: string;
      nonce: string;
      removed_resources: string[];
      resources: Array<{ name: string; version: string; resource: { type_url: string; value: Uint8Array } }>;
    };
    assert.equal(decoded.system_version_info, 'sys-1');
    assert.equal(decoded.type_url, TypeUrl.Endpoint);
    assert.equal(decoded.nonce, 'd-3');
    assert.deepEqual(decoded.removed_resources, ['gone-1', 'gone-2']);
    assert.deepEqual(
      decoded.resources.map((r) => [r.name, r.version, r.resource.type_url]),
      [
        ['a', 'va', TypeUrl.Endpoint],
        ['b', 'vb', TypeUrl.Endpoint],
      ],
    );
    const type = protoType('envoy.config.endpoint.v3.ClusterLoadAssignment');
    const b = type.toObject(type.decode(decoded.resources[1]?.resource.value ?? new Uint8Array())) as {
      cluster_name: string;
      policy: { overprovisioning_factor: { value: number } };
    };
    assert.equal(b.cluster_name, 'b');
    assert.equal(b.policy.overprovisioning_factor.value, 140);
  });

  it('produces exactly what protobufjs would encode, including large resources and only removals', () => {
    const big = encodeAny(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, { name: 'x'.repeat(70_000) }));
    for (const parts of [
      { systemVersionInfo: 'v', typeUrl: TypeUrl.Cluster, nonce: '1', resources: [{ name: 'x', version: 'h', any: big }], removedResources: [] },
      { systemVersionInfo: '', typeUrl: TypeUrl.Cluster, nonce: '2', resources: [], removedResources: ['r1', 'r2'] },
      { systemVersionInfo: 'v', typeUrl: TypeUrl.Endpoint, nonce: '3', resources: [{ name: 'a', version: 'va', any: cla('a') }], removedResources: ['z'] },
    ]) {
      const ours = encodeDeltaDiscoveryResponse(parts);
      const theirs = response
        .encode(
          response.fromObject({
            system_version_info: parts.systemVersionInfo,
            resources: parts.resources.map((r) => ({ name: r.name, version: r.version, resource: anyType.toObject(anyType.decode(r.any)) })),
            type_url: parts.typeUrl,
            nonce: parts.nonce,
            removed_resources: parts.removedResources,
          }),
        )
        .finish();
      assert.deepEqual(Buffer.from(ours), Buffer.from(theirs), `nonce ${parts.nonce}`);
    }
  });
});
