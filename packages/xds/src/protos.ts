import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { packedAsset } from '@meridian/model';

/**
 * Envoy's API protos, loaded from the copy `@grpc/grpc-js-xds` ships (the packed CLI carries
 * them in its own `proto/` tree). Every resource type lives in one root so `Any` fields
 * encode from `{ '@type': ... }` objects.
 */
const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/service/status/v3/csds.proto',
];

function includeDirs(): string[] {
  const packed = packedAsset(import.meta.url, 'proto/');
  if (packed) return [packed];
  const require = createRequire(import.meta.url);
  const xdsPackage = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const protobufPackage = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsPackage, 'deps', d)),
    protobufPackage, // google/protobuf/*.proto
    // Meridian's own declarations of Envoy messages that copy predates (proto/envoy).
    fileURLToPath(new URL('../../../proto/', import.meta.url)),
  ];
}

let root: protobuf.Root | undefined;

export function envoyProtoRoot(): protobuf.Root {
  if (root) return root;
  const dirs = includeDirs();
  const loaded = new protobuf.Root();
  loaded.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  loaded.loadSync(PROTO_FILES, { keepCase: true });
  loaded.resolveAll();
  root = loaded;
  return root;
}

export function protoType(fullName: string): protobuf.Type {
  return envoyProtoRoot().lookupType(fullName);
}

const typesByUrl = new Map<string, protobuf.Type>();

/** `type.googleapis.com/a.b.C` → the message type `a.b.C` (remembered: a root lookup walks namespaces). */
export function typeForUrl(typeUrl: string): protobuf.Type {
  let type = typesByUrl.get(typeUrl);
  if (!type) typesByUrl.set(typeUrl, (type = protoType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1))));
  return type;
}

/** Encodes a plain object (snake_case fields, `@type` in Any fields) as the message at `typeUrl`. */
export function encodeMessage(typeUrl: string, value: object): Uint8Array {
  const type = typeForUrl(typeUrl);
  return type.encode(type.fromObject(value)).finish();
}

/** Decodes to a plain object with enums as strings and longs as strings: the JSON-ish shape. */
export function decodeMessage(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = typeForUrl(typeUrl);
  return type.toObject(type.decode(bytes), { enums: String, longs: String, defaults: false, json: true });
}
