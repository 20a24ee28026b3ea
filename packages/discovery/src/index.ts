export { AggregateRegistry, mergeServices, type AggregateRegistryOptions } from './aggregate.ts';
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
export { KubeKind, type KubeEvent, type KubeObject } from './kube-objects.ts';
export { parseManifest, ManifestError, type ParsedManifest } from './manifest-parser.ts';
export { ManifestDirectorySource, type ManifestSourceOptions, type ManifestFileStatus } from './manifest-source.ts';
