// Test helper: request metadata as grpc-js builds it on the server side.
import * as grpc from '@grpc/grpc-js';

export function grpcMetadata(values: Readonly<Record<string, string>>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(values)) md.set(k, v);
  return md;
}
