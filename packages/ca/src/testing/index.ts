/**
 * `@meridian/ca/testing`: keys, CSRs, openssl and gRPC metadata helpers for tests and
 * benchmarks only (never imported by src/ outside this folder).
 */
export * from './keys.ts';
export { grpcMetadata } from './grpc-metadata.ts';
