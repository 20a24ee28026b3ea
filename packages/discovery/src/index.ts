export { AggregateRegistry, findConflicts, mergeServices, type AggregateRegistryOptions, type ServiceConflict } from './aggregate.ts';
export {
  ClusterRegistry,
  ClusterState,
  type ClusterChange,
  type ClusterRegistryOptions,
  type ClusterStatus,
} from './cluster-registry.ts';
export {
  Label,
  convertEndpointSlice,
  convertService,
  endpointHealth,
  nodeLocality,
  type ConvertContext,
  type EndpointLookup,
} from './convert.ts';
export { KubeKind, type KubeEvent, type KubeObject, type WorkloadEntry } from './kube-objects.ts';
export { parseManifest, parseManifestInSlices, ManifestError, CONFIG_API_GROUPS, type ParsedManifest } from './manifest-parser.ts';
export { checkManifestDirectory, type ManifestCheck } from './manifest-check.ts';
export {
  MANIFEST_RESCAN_MS,
  MANIFEST_SETTLE_MS,
  ManifestDirectorySource,
  type ManifestFileStatus,
  type ManifestSourceOptions,
  type ManifestWatchProblem,
  type ManifestWatchStatus,
} from './manifest-source.ts';
export {
  ClusterManager,
  type ClusterManagerOptions,
  type ClusterSourceSpec,
  type ClusterSpec,
  type ManagedClusterStatus,
} from './cluster-manager.ts';
export { DiscoveryErrorCode } from './errors.ts';
export { REQUIRED_ACCESS, missingPermissions } from './kube/access-review.ts';
export { KubeClusterSource, type KubeClusterSourceOptions } from './kube/kube-cluster-source.ts';
export {
  STRICT_KUBECONFIG_POLICY,
  kubeconfigViolations,
  loadKubeconfigFile,
  loadKubeconfigText,
  tokenExpiry,
  type KubeconfigPolicy,
} from './kube/kubeconfig-policy.ts';
export { POLICY_RESOURCES, type PolicyResource } from './kube/kube-policy-watch.ts';
export { InformerState, ResilientInformer, type Backoff, type InformerStatus } from './kube/resilient-informer.ts';
export { REMOTE_SECRET_LABELS, RemoteSecretController, isRemoteSecret, type RemoteSecretStatus } from './remote-secrets.ts';
