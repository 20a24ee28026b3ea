import type { EntryService } from './mesh.ts';
import type { AuthzPolicy, PeerAuthentications, RequestAuthn } from './security-policy.ts';
import type { TelemetryPolicies } from './telemetry.ts';
import type { TrafficPolicies } from './traffic-policy.ts';

/** Every compiled policy of the mesh: what a push snapshot's policy slot holds. */
export interface MeshPolicies {
  readonly traffic: TrafficPolicies;
  readonly peerAuthentications: PeerAuthentications;
  readonly authorization: readonly AuthzPolicy[];
  readonly requestAuthentication: readonly RequestAuthn[];
  readonly telemetry: TelemetryPolicies;
  /** Services ServiceEntries define, by hostname; a cluster's Service of the same hostname wins. */
  readonly serviceEntries: readonly EntryService[];
}
