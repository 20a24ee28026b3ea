// Public surface of the Kubernetes API test server.
export { KubeApiServer, KubeApiError, type KubeApiServerOptions, type ObjectRef } from './server.ts';
export { DEFAULT_API_AUDIENCES, type TokenSpec, type ServiceAccountTokenRequest } from './auth.ts';
export type { AuthorizationPolicy, PolicyBinding, PolicyRule } from './authz.ts';
export type { FailOptions, FaultMatcher } from './faults.ts';
export type { RequestFilter, RequestRecord } from './request-log.ts';
export type { ResourceType } from './resources.ts';
export type { StoreEvent } from './store.ts';
export type { KubeObject, KubeObjectInput, ObjectMeta, StatusBody, UserInfo } from './types.ts';
export type { WatchInfo } from './watch.ts';
export type { VersionInfo } from './discovery.ts';
export { kubeconfigObject, kubeconfigYaml, makeKubeConfig, type KubeconfigObject, type KubeconfigOptions } from './kubeconfig.ts';
export { parseKubeYaml } from './seed.ts';
