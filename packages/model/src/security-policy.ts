/**
 * Authorization as generators and the access explainer consume it: Istio's
 * AuthorizationPolicy compiled, with string patterns kept in upstream's wildcard form
 * (`*` any, `abc*` prefix, `*abc` suffix, else exact). The `policy` package builds it.
 */
import type { PolicySource, TrafficPolicies } from './traffic-policy.ts';

export const AuthzAction = { Allow: 'ALLOW', Deny: 'DENY', Audit: 'AUDIT', Custom: 'CUSTOM' } as const;
export type AuthzAction = (typeof AuthzAction)[keyof typeof AuthzAction];

/** A field and its negation: the request must match one of `values` (if any) and none of `not`. */
export interface Either<T> {
  readonly values: readonly T[];
  readonly not: readonly T[];
}

export interface AuthzSource {
  /** Peer identities as `<trust-domain>/ns/<ns>/sa/<sa>` patterns. */
  readonly principals: Either<string>;
  /** JWT `iss/sub` patterns. */
  readonly requestPrincipals: Either<string>;
  readonly namespaces: Either<string>;
  readonly ipBlocks: Either<string>;
  readonly remoteIpBlocks: Either<string>;
}

export interface AuthzOperation {
  readonly hosts: Either<string>;
  readonly ports: Either<number>;
  readonly methods: Either<string>;
  readonly paths: Either<string>;
}

export interface AuthzCondition {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

/** All of `from` (any one source), `to` (any one operation) and every `when` must match. */
export interface AuthzRule {
  readonly from: readonly AuthzSource[];
  readonly to: readonly AuthzOperation[];
  readonly when: readonly AuthzCondition[];
}

export interface AuthzPolicy {
  readonly source: PolicySource;
  readonly action: AuthzAction;
  /** `[]`: matches nothing (an ALLOW with no rules allows nothing). */
  readonly rules: readonly AuthzRule[];
  /** Workloads it applies to: `undefined` selects every workload in scope. */
  readonly selector?: Readonly<Record<string, string>>;
  /** Istio's `istio.io/dry-run`: evaluated and counted, never enforced. */
  readonly dryRun: boolean;
  /** Mesh-wide (the root namespace) or one namespace. */
  readonly scope: { readonly meshWide: true } | { readonly namespace: string };
}

/** A workload as authorization and peer authentication select it. */
export interface PolicyWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The policies that apply to `workload`: mesh-wide ones, its namespace's, and those whose selector it carries; in their order. */
export function authzPoliciesFor(policies: readonly AuthzPolicy[], workload: PolicyWorkload): AuthzPolicy[] {
  return policies.filter((p) => {
    if (!('meshWide' in p.scope) && p.scope.namespace !== workload.namespace) return false;
    return !p.selector || Object.entries(p.selector).every(([k, v]) => workload.labels[k] === v);
  });
}

export const PeerMtlsMode = { Strict: 'STRICT', Permissive: 'PERMISSIVE', Disable: 'DISABLE' } as const;
export type PeerMtlsMode = (typeof PeerMtlsMode)[keyof typeof PeerMtlsMode];

/** The mTLS mode a workload's inbound port is served with, and which policy said so. */
export interface PeerMtlsDecision {
  readonly mode: PeerMtlsMode;
  /** `undefined`: the mesh default from Meridian's config (`mtls.mode`). */
  readonly source?: PolicySource;
}

/** PeerAuthentication in effect, as inbound generators ask for it. */
export interface PeerAuthentications {
  /** The mode a workload's inbound port is served with. */
  modeFor(workload: PolicyWorkload, port: number): PeerMtlsDecision;
}

/** Every compiled policy of the mesh: what a push snapshot's policy slot holds. */
export interface MeshPolicies {
  readonly traffic: TrafficPolicies;
  readonly peerAuthentications: PeerAuthentications;
  readonly authorization: readonly AuthzPolicy[];
}
