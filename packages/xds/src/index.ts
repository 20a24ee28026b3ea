export { AdsServer, type AdsServerHooks, type AdsServerOptions, type PeerCall, type PeerIdentifier, type PeerIdentity } from './ads-server.ts';
export { classifyRequest, RequestKind, type Classification, type SotwRequestView, type TypeStreamState } from './classify.ts';
export { AdsConnection } from './sotw-connection.ts';
export { debounce, systemClock, type Clock, type DebounceOptions, type Debouncer } from './debounce.ts';
export { MeshResources, contentVersion, type MeshResourcesOptions } from './mesh-resources.ts';
export {
  CERTIFICATE_PROVIDER_INSTANCE,
  IDENTITY_CERTIFICATE_NAME,
  INBOUND_LISTENER_NAME_TEMPLATE,
  MtlsMode,
  ROOT_CERTIFICATE_NAME,
  inboundListenerName,
  parseInboundListenerName,
  serviceIdentities,
  type MtlsOptions,
} from './mtls.ts';
export { groupByPriority, localityMatchLevel, type LocalityGroup } from './priority.ts';
export { decodeMessage, encodeMessage, envoyProtoRoot, protoType } from './protos.ts';
export { proxyFromNode, type NodeMessage, type ProxyDefaults } from './proxy.ts';
export { PushCoordinator, type PushCoordinatorOptions, type PushSummary } from './push-coordinator.ts';
export type { PushSnapshot } from './push-snapshot.ts';
export { inboundClusterName, outboundClusterName, parseClusterName, parseOutboundClusterName, sniName, type ClusterName } from './resource-names.ts';
export type { GeneratedResource, ResourceSource } from './resource-source.ts';
export { TypeUrl, TYPE_SHORT_NAME, TYPE_URLS } from './type-url.ts';
export { encodeAny, encodeDiscoveryResponse } from './wire.ts';
export {
  describeLocalityMatch,
  groupItems,
  priorityRank,
  PriorityTier,
  type DuplicateItem,
  type GroupOptions,
  type Grouping,
  type Rankable,
} from './priority.ts';
export {
  selectPortEndpoints,
  isMultiNetwork,
  sameNetwork,
  selectEndpoints,
  usableGateways,
  type EndpointRow,
  type EndpointSelection,
  type GatewaysOf,
  type LbEndpointChoice,
  type SelectionProxy,
  type SelectOptions,
} from './endpoint-selection.ts';
export { encodeLoadAssignment, type LoadAssignmentPolicy } from './load-assignment.ts';
export { streamVariant } from './ads-server.ts';
export {
  classifyDeltaRequest,
  DeltaRequestKind,
  WILDCARD,
  type DeltaClassification,
  type DeltaRequestView,
  type DeltaTypeStreamState,
} from './classify-delta.ts';
export { DeltaAdsConnection } from './delta-connection.ts';
export { encodeDeltaDiscoveryResponse, type DeltaResourceParts, type DeltaResponseParts } from './wire.ts';
export {
  ClientStatus,
  ConfigStatus,
  StreamVariant,
  typeVersion,
  type ConnectionOptions,
  type DeltaResourceRecord,
  type DeltaWatchState,
  type GenerateFn,
  type ResourceStatus,
  type StreamHooks,
  type TypeWatchState,
  type XdsConnection,
} from './stream-state.ts';
export { addCsdsService, type CsdsOptions } from './csds.ts';
export { loadSidecarProtos } from './envoy-protos.ts';
export {
  EAST_WEST_GATEWAY_LABEL,
  EAST_WEST_GATEWAY_PORT,
  OVERPROVISIONING_FACTOR,
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
  PASSTHROUGH_CLUSTER,
  TrafficProtocol,
  VIRTUAL_INBOUND_LISTENER,
  VIRTUAL_INBOUND_PORT,
  VIRTUAL_OUTBOUND_LISTENER,
  VIRTUAL_OUTBOUND_PORT,
  trafficProtocol,
} from './envoy-resources.ts';
export { SECRET_TYPE_URL, secretResources, type SecretSource, type SecretSubject, type WorkloadCertificate } from './sds.ts';
export { configDump, decodeResource, type ConfigDumpOptions, type DumpWatch } from './config-dump.ts';
export { subsetEndpoints } from './policy-clusters.ts';
export { jwtAuthnFilter, jwtIssuers } from './jwt-authn.ts';
export { buildRbacFilters, DRY_RUN_ALLOW_PREFIX, DRY_RUN_DENY_PREFIX, HTTP_RBAC_TYPE, NETWORK_RBAC_TYPE, type RbacOptions } from './rbac.ts';
