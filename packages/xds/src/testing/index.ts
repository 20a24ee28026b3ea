/**
 * `@meridian/xds/testing`: fakes at the xDS package's boundaries and checks of what it
 * builds, for tests and benchmarks only (never imported by src/ outside this folder).
 */
export { StaticDiscovery, testProxy } from './static-discovery.ts';
export { testPolicies } from './test-policies.ts';
export { CapturingStream, TableSource, TEST_PROXY } from './table-source.ts';
export {
  ADS_DELTA,
  ADS_SOTW,
  CSDS_FETCH,
  CSDS_STREAM,
  decoder,
  encoder,
  rawStream,
  startTestXdsServer,
  unaryStatus,
  type TestXdsServer,
} from './xds-server.ts';
export {
  validateAnyBytes,
  validateEncoded,
  validateMessage,
  type ValidationFailure,
  type ValidationResult,
  type ValidationSuccess,
} from './proto-validate.ts';
