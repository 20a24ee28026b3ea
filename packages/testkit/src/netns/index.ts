export { captureRules, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, SIDECAR_GID, SIDECAR_UID, type CaptureOptions } from './capture.ts';
export { EnvoyProxy, envoyBinary, ENVOY_ADMIN_PORT, type EnvoyOptions } from './envoy.ts';
export { GroupProcess, type GroupProcessOptions } from './group-process.ts';
export { PodApp, type HttpAnswer } from './pod-app.ts';
export type { PodAppConfig, Received } from './pod-app-protocol.ts';
export { chromiumPath, realPeersMissing, realPeersNeeded, RealPeer, REQUIRE_REAL_PEERS_ENV, TEST_NODE_BASE_IMAGE } from './requirements.ts';
export { Pod, PodNetwork, SERVICE_CIDR, SIDECAR_USER, Testbed, type RunAs, type SpawnOptions } from './testbed.ts';
