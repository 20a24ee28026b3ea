/**
 * Istio's authorization semantics, evaluated offline: the access explainer's engine, and the
 * reference the RBAC compilers are tested against.
 *
 *   1. A matching DENY policy denies.
 *   2. With no ALLOW policy for the workload, the request is allowed.
 *   3. A matching ALLOW policy allows; otherwise the request is denied.
 * AUDIT policies and dry-run policies never decide; they are reported as would-match.
 *
 * Over plain TCP, HTTP-only fields (methods, paths, hosts, request principals, request
 * headers and JWT claims) cannot be checked: an ALLOW rule with one never matches (fail
 * closed) and a DENY rule ignores them (so it denies more), as upstream does.
 */
import { ipInBlock, type AuthzCondition, type AuthzOperation, type AuthzPolicy, type AuthzRule, type AuthzSource, type Either, type PolicySource } from '@meridian/model';

export interface AuthzRequest {
  readonly protocol: 'http' | 'tcp';
  /** The caller's proven identity (a SPIFFE ID or `<td>/ns/<ns>/sa/<sa>`); `undefined` for plaintext. */
  readonly principal?: string;
  readonly sourceIp?: string;
  readonly remoteIp?: string;
  readonly destinationPort: number;
  readonly destinationIp?: string;
  readonly sni?: string;
  readonly host?: string;
  readonly method?: string;
  readonly path?: string;
  /** Header names in lower case. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A validated JWT's `iss/sub`, its audiences, presenter and claims. */
  readonly requestPrincipal?: string;
  readonly audiences?: readonly string[];
  readonly presenter?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface AuthzEvaluationOptions {
  /** The local trust domain: `namespaces` match identities of this domain (and its aliases) only. */
  readonly trustDomain: string;
  /** Other trust domains whose identities `namespaces` treat as local. */
  readonly trustDomainAliases?: readonly string[];
}

export interface AuthzMatch {
  readonly policy: PolicySource;
  readonly action: AuthzPolicy['action'];
  readonly rule: number;
  readonly dryRun: boolean;
}

export interface AuthzDecision {
  readonly allowed: boolean;
  /** The policy and rule that decided; `undefined` when nothing did (no policy, or no ALLOW matched). */
  readonly decidedBy?: AuthzMatch;
  readonly reason: string;
  /** AUDIT and dry-run policies that matched: what they would have done. */
  readonly shadow: readonly AuthzMatch[];
}

export function evaluateAuthorization(policies: readonly AuthzPolicy[], request: AuthzRequest, options: AuthzEvaluationOptions): AuthzDecision {
  const shadow: AuthzMatch[] = [];
  const firstMatch = (p: AuthzPolicy): AuthzMatch | undefined => {
    const rule = p.rules.findIndex((r) => ruleMatches(r, request, options, p.action === 'DENY'));
    return rule < 0 ? undefined : { policy: p.source, action: p.action, rule, dryRun: p.dryRun };
  };
  const enforced = (action: string) => policies.filter((p) => p.action === action && !p.dryRun);
  for (const p of policies) {
    if (p.dryRun || p.action === 'AUDIT') {
      const m = firstMatch(p);
      if (m) shadow.push(m);
    }
  }
  for (const p of enforced('DENY')) {
    const m = firstMatch(p);
    if (m) return { allowed: false, decidedBy: m, reason: `denied by DENY policy ${name(p.source)} rule ${m.rule}`, shadow };
  }
  const allows = enforced('ALLOW');
  if (allows.length === 0) return { allowed: true, reason: 'no ALLOW policy applies to the workload', shadow };
  for (const p of allows) {
    const m = firstMatch(p);
    if (m) return { allowed: true, decidedBy: m, reason: `allowed by ALLOW policy ${name(p.source)} rule ${m.rule}`, shadow };
  }
  return { allowed: false, reason: `no rule of the ${allows.length} ALLOW ${allows.length === 1 ? 'policy' : 'policies'} matched`, shadow };
}

function name(s: PolicySource): string {
  return `${s.namespace}/${s.name}`;
}

/** An HTTP-only field over TCP: `undefined` means "cannot be checked". */
type Tri = boolean | undefined;

function ruleMatches(rule: AuthzRule, request: AuthzRequest, options: AuthzEvaluationOptions, deny: boolean): boolean {
  const all = (results: Tri[]) => {
    // Unknowable fields: a DENY ignores them, an ALLOW fails on them.
    const known = results.filter((r): r is boolean => r !== undefined);
    if (known.length < results.length && !deny) return false;
    return known.every(Boolean);
  };
  const from = rule.from.length === 0 || rule.from.some((s) => all(sourceMatches(s, request, options)));
  const to = rule.to.length === 0 || rule.to.some((o) => all(operationMatches(o, request)));
  const when = all(rule.when.map((c) => conditionMatches(c, request, options)));
  return from && to && when;
}

function field<T>(e: Either<T>, actual: T | undefined, match: (pattern: T, value: T) => boolean, httpOnly: boolean, request: AuthzRequest): Tri {
  if (e.values.length === 0 && e.not.length === 0) return true;
  if (httpOnly && request.protocol !== 'http') return undefined;
  if (actual === undefined) return e.values.length === 0;
  if (e.values.length && !e.values.some((p) => match(p, actual))) return false;
  return !e.not.some((p) => match(p, actual));
}

/** Upstream's string patterns: `*`, `prefix*`, `*suffix`, or exact. */
export function patternMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return value !== '';
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

const caseless = (p: string, v: string) => patternMatches(p.toLowerCase(), v.toLowerCase());

function istioPrincipal(principal: string | undefined): string | undefined {
  return principal?.startsWith('spiffe://') ? principal.slice('spiffe://'.length) : principal;
}

/** The namespace of a local identity; `undefined` for another trust domain's (never matched by `namespaces`). */
function localNamespace(principal: string | undefined, options: AuthzEvaluationOptions): string | undefined {
  const m = /^([^/]+)\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal ?? '');
  if (!m) return undefined;
  const local = m[1] === options.trustDomain || (options.trustDomainAliases ?? []).includes(m[1] ?? '');
  return local ? m[2] : undefined;
}

function sourceMatches(s: AuthzSource, request: AuthzRequest, options: AuthzEvaluationOptions): Tri[] {
  const principal = istioPrincipal(request.principal);
  return [
    field(s.principals, principal, patternMatches, false, request),
    field(s.requestPrincipals, request.requestPrincipal, patternMatches, true, request),
    field(s.namespaces, localNamespace(principal, options), patternMatches, false, request),
    field(s.ipBlocks, request.sourceIp, ipInBlock, false, request),
    field(s.remoteIpBlocks, request.remoteIp ?? request.sourceIp, ipInBlock, false, request),
  ];
}

function operationMatches(o: AuthzOperation, request: AuthzRequest): Tri[] {
  const host = request.host?.replace(/:\d+$/, '');
  return [
    field(o.hosts, host, caseless, true, request),
    field(o.ports, request.destinationPort, (p, v) => p === v, false, request),
    field(o.methods, request.method, patternMatches, true, request),
    field(o.paths, request.path?.split('?')[0], patternMatches, true, request),
  ];
}

function conditionMatches(c: AuthzCondition, request: AuthzRequest, options: AuthzEvaluationOptions): Tri {
  const value = conditionValue(c.key, request, options);
  if (value === undefined && httpOnlyKey(c.key) && request.protocol !== 'http') return undefined;
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const hit = (patterns: readonly string[]) => values.some((v) => patterns.some((p) => (c.key.endsWith('.ip') ? ipInBlock(p, v) : patternMatches(p, v))));
  if (c.values.length && !hit(c.values)) return false;
  return !hit(c.notValues);
}

function httpOnlyKey(key: string): boolean {
  return key.startsWith('request.');
}

function conditionValue(key: string, request: AuthzRequest, options: AuthzEvaluationOptions): string | string[] | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return request.headers?.[(header[1] ?? '').toLowerCase()];
  const claim = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (claim) {
    let value: unknown = request.claims;
    for (const [, part] of (claim[1] ?? '').matchAll(/\[([^\]]+)\]/g)) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part ?? ''] : undefined;
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
    return undefined;
  }
  switch (key) {
    case 'source.ip':
      return request.sourceIp;
    case 'remote.ip':
      return request.remoteIp ?? request.sourceIp;
    case 'source.namespace':
      return localNamespace(istioPrincipal(request.principal), options);
    case 'source.principal':
      return istioPrincipal(request.principal);
    case 'request.auth.principal':
      return request.requestPrincipal;
    case 'request.auth.audiences':
      return request.audiences ? [...request.audiences] : undefined;
    case 'request.auth.presenter':
      return request.presenter;
    case 'destination.ip':
      return request.destinationIp;
    case 'destination.port':
      return String(request.destinationPort);
    case 'connection.sni':
      return request.sni;
    default:
      return undefined;
  }
}
