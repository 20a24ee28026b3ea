import { createRequire } from 'node:module';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Envoy's protos through @grpc/proto-loader: an encoder/decoder written independently of
 * Meridian's own, so tests check Meridian's bytes with someone else's reading of them.
 */
const FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
];

let definition: protoLoader.PackageDefinition | undefined;

export function envoyPackageDefinition(): protoLoader.PackageDefinition {
  if (definition) return definition;
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  definition = protoLoader.loadSync(FILES, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(root, 'deps', d)),
  });
  return definition;
}

export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

/** Decodes an `Any` (and every `Any` nested in it) into plain objects with an `@type` key. */
export function decodeAny(any: AnyMessage): Record<string, unknown> {
  const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
  const type = envoyPackageDefinition()[typeName] as protoLoader.MessageTypeDefinition<object, object> | undefined;
  if (!type) throw new Error(`type not loaded in testkit: ${typeName}`);
  const decoded = type.deserialize(any.value) as Record<string, unknown>;
  return { '@type': typeName, ...(expandAnys(decoded) as Record<string, unknown>) };
}

function expandAnys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandAnys);
  if (!value || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const obj = value as Record<string, unknown>;
  if (typeof obj['type_url'] === 'string' && Buffer.isBuffer(obj['value'])) {
    try {
      return decodeAny(obj as unknown as AnyMessage);
    } catch {
      return obj;
    }
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, expandAnys(v)]));
}
