/**
 * Authorization as generators and the access explainer consume it: Istio's
 * AuthorizationPolicy compiled, with string patterns kept in upstream's wildcard form
 * (`*` any, `abc*` prefix, `*abc` suffix, else exact). The `policy` package builds it.
 */
import { ClientKind, type PolicySource } from './traffic-policy.ts';

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

/** What selects workloads the way Istio's security policies do. */
export interface WorkloadScoped {
  readonly selector?: Readonly<Record<string, string>>;
  readonly scope: { readonly meshWide: true } | { readonly namespace: string };
}

/** The policies that apply to `workload`: mesh-wide ones, its namespace's, and those whose selector it carries; in their order. */
export function policiesSelecting<P extends WorkloadScoped>(policies: readonly P[], workload: PolicyWorkload): P[] {
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

/** One issuer a RequestAuthentication accepts tokens from, as upstream's JWTRule says. */
export interface JwtRule {
  readonly issuer: string;
  /** Empty: any audience. */
  readonly audiences: readonly string[];
  /** The JSON Web Key Set inline, or where to fetch it. */
  readonly jwks: { readonly inline: string } | { readonly uri: string };
  /** Empty with `fromParams` and `fromCookies` empty: `Authorization: Bearer` and `?access_token`. */
  readonly fromHeaders: ReadonlyArray<{ readonly name: string; readonly prefix?: string }>;
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  readonly forwardOriginalToken: boolean;
  readonly outputPayloadToHeader?: string;
  readonly outputClaimToHeaders: ReadonlyArray<{ readonly header: string; readonly claim: string }>;
  readonly timeoutMs?: number;
}

/**
 * A RequestAuthentication: a request with a token none of its rules validates is refused
 * (401); one without a token passes with no request principal, for AuthorizationPolicy to
 * decide.
 */
export interface RequestAuthn extends WorkloadScoped {
  readonly source: PolicySource;
  readonly rules: readonly JwtRule[];
}

/**
 * What a client kind's server side can enforce of security policy. The RBAC compiler (xds)
 * leaves out or makes unknown what a kind lacks, and the policy report (policy) says so per
 * object: both read this one declaration, so they cannot disagree.
 */
export interface ServerSecurityCapabilities {
  /** RBAC action LOG: AUDIT policies. */
  readonly auditLog: boolean;
  /** RBAC shadow rules: dry-run policies, counted. */
  readonly shadowRules: boolean;
  /** The SNI the connection asked for (`connection.sni`). */
  readonly sni: boolean;
  /** JWT validation: RequestAuthentication and the `request.auth.*` fields. */
  readonly jwt: boolean;
  /** Plaintext and mTLS on one port (PERMISSIVE). */
  readonly permissive: boolean;
}

export const SERVER_SECURITY: Readonly<Record<ClientKind, ServerSecurityCapabilities>> = {
  [ClientKind.Envoy]: { auditLog: true, shadowRules: true, sni: true, jwt: true, permissive: true },
  // grpc-js-xds: NACKs RBAC LOG, ignores shadow rules, matches an empty SNI, has no JWT filter,
  // and cannot tell TLS from plaintext on one port.
  [ClientKind.Grpc]: { auditLog: false, shadowRules: false, sni: false, jwt: false, permissive: false },
};
