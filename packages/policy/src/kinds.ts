/**
 * The policy kinds Meridian accepts, with the API versions each is served under. Upstream's
 * older versions are aliases of the current one: the same schema, the same semantics.
 */
import { PolicyKind } from '@meridian/model';

// The kinds are model vocabulary (a policy change is pushed with keys of its kind).
export { PolicyKind };

const NETWORKING = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];
const SECURITY = ['security.istio.io/v1', 'security.istio.io/v1beta1'];
const TELEMETRY = ['telemetry.istio.io/v1', 'telemetry.istio.io/v1alpha1'];
const GATEWAY_API = ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'];

/** The API versions each kind is accepted under, the current one first. */
export const POLICY_API_VERSIONS: Readonly<Record<PolicyKind, readonly string[]>> = {
  VirtualService: NETWORKING,
  DestinationRule: NETWORKING,
  ServiceEntry: NETWORKING,
  Sidecar: NETWORKING,
  PeerAuthentication: SECURITY,
  AuthorizationPolicy: SECURITY,
  RequestAuthentication: SECURITY,
  Telemetry: TELEMETRY,
  HTTPRoute: GATEWAY_API,
  GRPCRoute: GATEWAY_API,
};

export function isPolicyKind(kind: string): kind is PolicyKind {
  return Object.hasOwn(POLICY_API_VERSIONS, kind);
}

/** The group of an `apiVersion` (`networking.istio.io/v1` → `networking.istio.io`). */
export function apiGroupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * A document's kind as a policy kind: `undefined` when the kind is none of ours (a Service,
 * a Deployment: someone else's business), an error when it is ours under a version we do not
 * serve (a typo there would otherwise drop the policy without a word).
 */
export function policyKindOf(apiVersion: unknown, kind: unknown): PolicyKind | { readonly error: string } | undefined {
  if (typeof kind !== 'string' || !isPolicyKind(kind)) return undefined;
  const versions = POLICY_API_VERSIONS[kind];
  if (typeof apiVersion === 'string' && versions.includes(apiVersion)) return kind;
  const groups = new Set(versions.map(apiGroupOf));
  // Another group's kind of the same name (a CRD of some other project) is not ours either.
  if (typeof apiVersion === 'string' && !groups.has(apiGroupOf(apiVersion))) return undefined;
  return { error: `apiVersion: ${kind} is served as ${versions.join(', ')}; got ${JSON.stringify(apiVersion)}` };
}
