export { AdsTestClient, TypeUrls, type AdsRequest, type AdsResponse, type TestNode } from './ads-client.ts';
export { decodeAny, envoyPackageDefinition, type AnyMessage } from './envoy-protos.ts';
export { echoClient, echoService, startEchoBackend, type EchoBackend, type EchoClient, type EchoReply } from './echo.ts';
export { xdsEchoClient } from './xds-client.ts';
export { OtlpCollector, type CollectedLog, type CollectedSpan } from './otlp-collector.ts';
export {
  KubeApiServer,
  KubeApiError,
  DEFAULT_API_AUDIENCES,
  kubeconfigObject,
  kubeconfigYaml,
  makeKubeConfig,
  parseKubeYaml,
  type KubeApiServerOptions,
  type ObjectRef,
  type TokenSpec,
  type ServiceAccountTokenRequest,
  type AuthorizationPolicy,
  type PolicyBinding,
  type PolicyRule,
  type FailOptions,
  type FaultMatcher,
  type RequestFilter,
  type RequestRecord,
  type ResourceType,
  type StoreEvent,
  type KubeObject,
  type KubeObjectInput,
  type ObjectMeta,
  type StatusBody,
  type UserInfo,
  type WatchInfo,
  type VersionInfo,
  type KubeconfigObject,
  type KubeconfigOptions,
} from './kube-api/index.ts';
export { DeltaAdsTestClient, type DeltaRequest, type DeltaResource, type DeltaResponse } from './delta-ads-client.ts';
export { CsdsTestClient, type CsdsClientConfig, type CsdsQuery, type CsdsResource } from './csds-client.ts';
export * from './netns/index.ts';
