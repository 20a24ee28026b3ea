import type { MeshPolicies, TrafficPolicies } from '@meridian/model';

/**
 * Mesh policies for tests that hold only what they set: no routes, DestinationRules or
 * Sidecars unless given, no PeerAuthentication deciding (the config's mode applies), no
 * authorization, logs, traces or ServiceEntries.
 */
export function testPolicies(over: { traffic?: Partial<TrafficPolicies> } & Partial<Omit<MeshPolicies, 'traffic'>> = {}): MeshPolicies {
  const { traffic, ...rest } = over;
  return {
    traffic: { routesFor: () => undefined, destinationFor: () => undefined, usesSourceLabels: false, egressFor: () => undefined, ...traffic },
    peerAuthentications: { modeFor: () => ({ mode: 'DISABLE' }) },
    authorization: [],
    requestAuthentication: [],
    telemetry: { accessLoggingFor: () => ({ client: [], server: [] }), tracingFor: () => ({}) },
    serviceEntries: [],
    ...rest,
  };
}
