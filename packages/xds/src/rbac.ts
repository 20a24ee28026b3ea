/**
 * AuthorizationPolicy compiled to Envoy's RBAC (`config.rbac.v3.RBAC`), for the HTTP filter,
 * the network filter and gRPC's server-side RBAC, with the semantics of the offline evaluator
 * (`policy/authz/evaluate.ts`, the reference these compilers are tested against):
 *
 * - DENY policies go into one RBAC with action DENY, ALLOW ones into one with action ALLOW,
 *   placed in that order: a request is refused by the first, or by the second when ALLOW
 *   policies exist and none matched. An ALLOW group whose policies have no rules allows
 *   nothing, as upstream says.
 * - AUDIT policies never decide: Envoy gets them as an RBAC with action LOG. gRPC rejects LOG,
 *   so gRPC servers get none.
 * - Dry-run policies (`istio.io/dry-run`) go into `shadow_rules`: counted by Envoy under
 *   `rbac.<prefix>shadow_denied`, never enforced. gRPC ignores shadow rules; none are sent.
 * - Principals are matched on the peer certificate's URI SAN (`authenticated`), so a plaintext
 *   caller has none; `namespaces` match identities of the local trust domain (and listed
 *   aliases) only, as the evaluator does.
 * - A field the connection cannot show (an HTTP field over TCP; the SNI for gRPC, which never
 *   sees it) makes an ALLOW alternative match nothing and is left out of a DENY one (which
 *   then denies more): never looser than written.
 * - Request principals and JWT claims: Envoy matches them on the payload `jwt_authn` leaves in
 *   the request's metadata (`jwt-authn.ts`). A workload no RequestAuthentication selects has
 *   no such payload, so they match as absent. gRPC servers validate no JWT: where a
 *   RequestAuthentication selects the workload, the fields are unknown there (an ALLOW
 *   alternative with one matches nothing, a DENY one denies without it); elsewhere absent.
 */
import { AuthzAction, SERVER_SECURITY, type AuthzCondition, type ClientKind, type AuthzOperation, type AuthzPolicy, type AuthzRule, type AuthzSource, type Either } from '@meridian/model';
import { JWT_AUTHN_FILTER, JWT_PAYLOAD_KEY } from './jwt-authn.ts';
import { escapeRegex } from './string-match.ts';

export const HTTP_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const HTTP_RBAC_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';
export const NETWORK_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';

/** Prefixes of the dry-run counters, Istio's names so its dashboards read them. */
export const DRY_RUN_DENY_PREFIX = 'istio_dry_run_deny_';
export const DRY_RUN_ALLOW_PREFIX = 'istio_dry_run_allow_';

export interface RbacOptions {
  readonly trustDomain: string;
  /** Trust domains whose identities `namespaces` treat as local. */
  readonly trustDomainAliases?: readonly string[];
  readonly protocol: 'http' | 'tcp';
  readonly client: ClientKind;
  /** Issuers the RequestAuthentications selecting the workload accept; empty when none does. */
  readonly jwtIssuers?: readonly string[];
}

/** The options for a snapshot's mesh: its trust domain and the aliases its config lists. */
export function rbacOptions(
  snapshot: { readonly trustDomain: string; readonly trustDomainAliases: readonly string[] },
  protocol: RbacOptions['protocol'],
  client: ClientKind,
  jwtIssuers: readonly string[] = [],
): RbacOptions {
  return { trustDomain: snapshot.trustDomain, trustDomainAliases: snapshot.trustDomainAliases, protocol, client, jwtIssuers };
}

type Principal = object;
type Permission = object;
/** A field the connection cannot show. */
const UNKNOWN: unique symbol = Symbol('unknown');
type Term<T> = T | typeof UNKNOWN;

const ANY: object = { any: true };
const NONE_PRINCIPAL: object = { not_id: ANY };

/** The RBAC stages in the order a request meets them; each is one filter of the chain. */
export const RbacStage = { Deny: 'deny', Allow: 'allow', Audit: 'audit', DryRunDeny: 'dry_run_deny', DryRunAllow: 'dry_run_allow' } as const;
export type RbacStage = (typeof RbacStage)[keyof typeof RbacStage];
const STAGES: readonly RbacStage[] = Object.values(RbacStage);

/** The `RBAC` message of each stage that has policies (gRPC: DENY and ALLOW only). */
export function rbacStages(policies: readonly AuthzPolicy[], options: RbacOptions): Map<RbacStage, object> {
  const enforced = (action: AuthzAction) => policies.filter((p) => p.action === action && !p.dryRun);
  const dryRun = (action: AuthzAction) => policies.filter((p) => p.action === action && p.dryRun);
  const stages = new Map<RbacStage, object>();
  const deny = enforced(AuthzAction.Deny);
  if (deny.length) stages.set(RbacStage.Deny, { rules: rbacRules('DENY', deny, options) });
  const allow = enforced(AuthzAction.Allow);
  if (allow.length) stages.set(RbacStage.Allow, { rules: rbacRules('ALLOW', allow, options) });
  const can = SERVER_SECURITY[options.client];
  const audit = enforced(AuthzAction.Audit);
  if (audit.length && can.auditLog) stages.set(RbacStage.Audit, { rules: rbacRules('LOG', audit, options) });
  if (!can.shadowRules) return stages;
  const shadowDeny = dryRun(AuthzAction.Deny);
  if (shadowDeny.length) stages.set(RbacStage.DryRunDeny, { shadow_rules: rbacRules('DENY', shadowDeny, options), shadow_rules_stat_prefix: DRY_RUN_DENY_PREFIX });
  const shadowAllow = dryRun(AuthzAction.Allow);
  if (shadowAllow.length) stages.set(RbacStage.DryRunAllow, { shadow_rules: rbacRules('ALLOW', shadowAllow, options), shadow_rules_stat_prefix: DRY_RUN_ALLOW_PREFIX });
  return stages;
}

/**
 * The RBAC filters of a chain, in stage order, with their rules inline: what gRPC servers
 * and Envoy's TCP chains get. Empty when no policy applies. `statPrefix` names a network
 * filter's stats (the HTTP filter's are under the HCM's).
 */
export function buildRbacFilters(policies: readonly AuthzPolicy[], options: RbacOptions, statPrefix: string): object[] {
  return rbacFilters(rbacStages(policies, options), options.protocol, statPrefix);
}

/** `buildRbacFilters` from stages already compiled (one workload's, for each of its chains). */
export function rbacFilters(stages: ReadonlyMap<RbacStage, object>, protocol: RbacOptions['protocol'], statPrefix: string): object[] {
  // Names are unique per chain (gRPC rejects a repeated HTTP filter name): the stage's.
  return [...stages].map(([stage, config]) =>
    protocol === 'http'
      ? { name: stageFilterName(stage), typed_config: { '@type': HTTP_RBAC_TYPE, ...config } }
      : { name: stageFilterName(stage), typed_config: { '@type': NETWORK_RBAC_TYPE, stat_prefix: statPrefix, ...config } },
  );
}

/**
 * An Envoy HTTP chain's RBAC filters: one per stage, always there and empty (an RBAC without
 * rules lets everything through); the rules come per route (`rbacPerRoute`) with the inbound
 * route configuration over RDS. A policy change then changes a route, never the listener, so
 * Envoy drains no connection for it: a caller the new policy still allows sees no failure.
 */
export function httpRbacStageFilters(): object[] {
  // Envoy names a filter's shadow counters from its own config, not the route's.
  return STAGES.map((stage) => ({ name: stageFilterName(stage), typed_config: { '@type': HTTP_RBAC_TYPE, ...(STAGE_STAT_PREFIX[stage] ? { shadow_rules_stat_prefix: STAGE_STAT_PREFIX[stage] } : {}) } }));
}

const STAGE_STAT_PREFIX: Partial<Record<RbacStage, string>> = { [RbacStage.DryRunDeny]: DRY_RUN_DENY_PREFIX, [RbacStage.DryRunAllow]: DRY_RUN_ALLOW_PREFIX };

/** The inbound virtual host's `typed_per_filter_config`: each stage's rules (compiled for HTTP) for its filter. */
export function rbacPerRoute(stages: ReadonlyMap<RbacStage, object>): Record<string, object> {
  return Object.fromEntries([...stages].map(([stage, rbac]) => [stageFilterName(stage), { '@type': HTTP_RBAC_PER_ROUTE_TYPE, rbac }]));
}

/** Which policies, by name, a compiled RBAC came from: what proxies with the same policies share answers by. */
export function policySetKey(policies: ReadonlyArray<{ readonly source: { readonly namespace: string; readonly name: string } }>): string {
  return policies.map((p) => `${p.source.namespace}/${p.source.name}`).join(',');
}

function stageFilterName(stage: RbacStage): string {
  return `meridian.rbac.${stage}`;
}

/** `config.rbac.v3.RBAC`: one named policy per rule, `ns[<ns>]-policy[<name>]-rule[<i>]` as Istio names them. */
export function rbacRules(action: 'ALLOW' | 'DENY' | 'LOG', policies: readonly AuthzPolicy[], options: RbacOptions): object {
  const entries: Array<[string, object]> = [];
  for (const p of policies) {
    p.rules.forEach((rule, i) => {
      const compiled = compileRule(rule, options, p.action === AuthzAction.Deny);
      if (compiled) entries.push([`ns[${p.source.namespace}]-policy[${p.source.name}]-rule[${i}]`, compiled]);
    });
  }
  return { action, policies: Object.fromEntries(entries) };
}

/** A rule as one RBAC policy; `undefined` when it can match nothing for this connection. */
function compileRule(rule: AuthzRule, options: RbacOptions, deny: boolean): { principals: Principal[]; permissions: Permission[] } | undefined {
  /** All of `terms`: an unknown one fails an ALLOW and is dropped from a DENY. */
  const all = <T>(terms: Array<Term<T>>, and: (items: T[]) => T, any: T): T | undefined => {
    if (!deny && terms.includes(UNKNOWN)) return undefined;
    const known = terms.filter((t): t is T => t !== UNKNOWN);
    return known.length === 0 ? any : known.length === 1 ? known[0] : and(known);
  };
  const andIds = (ids: Principal[]) => ({ and_ids: { ids } });
  const andRules = (rules: Permission[]) => ({ and_rules: { rules } });

  const sources = rule.from.map((s) => all(sourceTerms(s, options), andIds, ANY)).filter((p): p is Principal => p !== undefined);
  if (rule.from.length > 0 && sources.length === 0) return undefined;
  const operations = rule.to.map((o) => all(operationTerms(o, options), andRules, ANY)).filter((p): p is Permission => p !== undefined);
  if (rule.to.length > 0 && operations.length === 0) return undefined;

  const principalConditions: Array<Term<Principal>> = [];
  const permissionConditions: Array<Term<Permission>> = [];
  for (const c of rule.when) {
    const { side, terms } = conditionTerms(c, options);
    (side === 'principal' ? principalConditions : permissionConditions).push(...terms);
  }
  const principal = all([...(sources.length ? [orOf(sources, 'or_ids', 'ids')] : []), ...principalConditions], andIds, ANY);
  const permission = all([...(operations.length ? [orOf(operations, 'or_rules', 'rules')] : []), ...permissionConditions], andRules, ANY);
  if (principal === undefined || permission === undefined) return undefined;
  return { principals: [principal], permissions: [permission] };
}

function orOf(items: object[], kind: 'or_ids' | 'or_rules', field: 'ids' | 'rules'): object {
  return items.length === 1 ? (items[0] as object) : { [kind]: { [field]: items } };
}

/** `values` (any of) and not any of `not`, each pattern mapped by `one`; `[]` when the field is unset. */
function eitherTerms<T, R extends object>(e: Either<T>, one: (value: T) => R, side: 'principal' | 'permission'): R[] {
  const or = side === 'principal' ? (xs: R[]) => orOf(xs, 'or_ids', 'ids') : (xs: R[]) => orOf(xs, 'or_rules', 'rules');
  const out: object[] = [];
  if (e.values.length) out.push(or(e.values.map(one)));
  if (e.not.length) out.push(side === 'principal' ? { not_id: or(e.not.map(one)) } : { not_rule: or(e.not.map(one)) });
  return out as R[];
}

/** A field only HTTP requests carry: unknown over TCP. */
function httpOnly<T>(options: RbacOptions, terms: T[]): Array<Term<T>> {
  if (terms.length === 0) return [];
  return options.protocol === 'http' ? terms : [UNKNOWN];
}

/**
 * A field of the validated JWT (`requestPrincipals`, `request.auth.*`): over TCP unknown; for
 * gRPC unknown where a RequestAuthentication selects the workload, else absent; for Envoy
 * HTTP matched on the JWT payload.
 */
function jwtField(e: Either<string>, options: RbacOptions, one: (pattern: string) => Principal): Array<Term<Principal>> {
  if (e.values.length === 0 && e.not.length === 0) return [];
  if (options.protocol !== 'http') return [UNKNOWN];
  if (!SERVER_SECURITY[options.client].jwt) return options.jwtIssuers?.length ? [UNKNOWN] : [e.values.length ? NONE_PRINCIPAL : ANY];
  return eitherTerms(e, one, 'principal');
}

const payload = (path: readonly string[], value: object): Principal => ({ metadata: { filter: JWT_AUTHN_FILTER, path: [JWT_PAYLOAD_KEY, ...path].map((key) => ({ key })), value } });
/** A claim that may be a string or a list of strings (`aud`, `groups`): either matches. */
const claimMatcher = (path: readonly string[], pattern: string): Principal =>
  orOf([payload(path, { string_match: patternMatcher(pattern) }), payload(path, { list_match: { one_of: { string_match: patternMatcher(pattern) } } })], 'or_ids', 'ids');

/**
 * A request principal pattern (`<iss>/<sub>`, with upstream's `*`, `prefix*`, `*suffix`)
 * against the payload's `iss` and `sub`. Issuers hold slashes (URLs), so the pattern is cut
 * where one of the workload's accepted issuers ends: a principal from any other issuer can
 * never be validated here, so it need not be matched.
 */
function requestPrincipalMatcher(pattern: string, issuers: readonly string[]): Principal {
  const iss = (v: string) => payload(['iss'], { string_match: { exact: v } });
  const sub = (m: object) => payload(['sub'], { string_match: m });
  if (pattern === '*') return payload(['iss'], { present_match: true });
  const alternatives: Principal[] = [];
  for (const issuer of issuers) {
    const head = `${issuer}/`;
    if (pattern.endsWith('*')) {
      const prefix = pattern.slice(0, -1);
      if (head.startsWith(prefix)) alternatives.push(iss(issuer));
      else if (prefix.startsWith(head)) alternatives.push({ and_ids: { ids: [iss(issuer), sub({ prefix: prefix.slice(head.length) })] } });
    } else if (pattern.startsWith('*')) {
      const suffix = pattern.slice(1);
      // The suffix lies within `sub`, or reaches back into `<iss>/`.
      const within = [sub({ suffix })];
      for (let k = 1; k < suffix.length; k++) if (head.endsWith(suffix.slice(0, k))) within.push(sub({ exact: suffix.slice(k) }));
      if (head.endsWith(suffix)) within.push(payload(['sub'], { present_match: true }));
      alternatives.push({ and_ids: { ids: [iss(issuer), orOf(within, 'or_ids', 'ids')] } });
    } else if (pattern.startsWith(head) && pattern.length > head.length) {
      alternatives.push({ and_ids: { ids: [iss(issuer), sub({ exact: pattern.slice(head.length) })] } });
    }
  }
  return alternatives.length ? orOf(alternatives, 'or_ids', 'ids') : NONE_PRINCIPAL;
}

/** A `request.auth.*` condition key as the payload path it reads; `undefined` for one no client can check. */
function jwtConditionMatcher(key: string, options: RbacOptions): ((pattern: string) => Principal) | undefined {
  const claim = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (claim) {
    const path = [...(claim[1] ?? '').matchAll(/\[([^\]]+)\]/g)].map((m) => m[1] ?? '');
    return (pattern) => claimMatcher(path, pattern);
  }
  switch (key) {
    case 'request.auth.principal':
      return (pattern) => requestPrincipalMatcher(pattern, options.jwtIssuers ?? []);
    case 'request.auth.audiences':
      return (pattern) => claimMatcher(['aud'], pattern);
    case 'request.auth.presenter':
      return (pattern) => claimMatcher(['azp'], pattern);
    default:
      return undefined;
  }
}

function sourceTerms(s: AuthzSource, options: RbacOptions): Array<Term<Principal>> {
  return [
    ...eitherTerms(s.principals, principalMatcher, 'principal'),
    ...jwtField(s.requestPrincipals, options, (p) => requestPrincipalMatcher(p, options.jwtIssuers ?? [])),
    ...eitherTerms(s.namespaces, (n) => namespaceMatcher(n, options), 'principal'),
    ...eitherTerms(s.ipBlocks, (b) => ({ direct_remote_ip: cidr(b) }), 'principal'),
    ...eitherTerms(s.remoteIpBlocks, (b) => ({ remote_ip: cidr(b) }), 'principal'),
  ];
}

function operationTerms(o: AuthzOperation, options: RbacOptions): Array<Term<Permission>> {
  return [
    ...httpOnly(options, eitherTerms(o.hosts, hostMatcher, 'permission')),
    ...eitherTerms(o.ports, (port) => ({ destination_port: port }), 'permission'),
    ...httpOnly(options, eitherTerms(o.methods, (m) => ({ header: { name: ':method', string_match: patternMatcher(m) } }), 'permission')),
    ...httpOnly(options, eitherTerms(o.paths, (p) => ({ url_path: { path: patternMatcher(p) } }), 'permission')),
  ];
}

/** A condition's terms, all of which must hold, and on which side of the RBAC policy they go. */
type SidedTerms = { side: 'principal' | 'permission'; terms: Array<Term<object>> };

function conditionTerms(c: AuthzCondition, options: RbacOptions): SidedTerms {
  const either = { values: c.values, not: c.notValues };
  const principal = (terms: Array<Term<Principal>>): SidedTerms => ({ side: 'principal', terms });
  const permission = (terms: Array<Term<Permission>>): SidedTerms => ({ side: 'permission', terms });
  const header = /^request\.headers\[(.+)\]$/.exec(c.key);
  if (header) return principal(httpOnly(options, eitherTerms(either, (v) => ({ header: { name: (header[1] ?? '').toLowerCase(), string_match: patternMatcher(v) } }), 'principal')));
  if (c.key.startsWith('request.auth.')) {
    const matcher = jwtConditionMatcher(c.key, options);
    return principal(matcher ? jwtField(either, options, matcher) : [UNKNOWN]);
  }
  switch (c.key) {
    case 'source.ip':
      return principal(eitherTerms(either, (b) => ({ direct_remote_ip: cidr(b) }), 'principal'));
    case 'remote.ip':
      return principal(eitherTerms(either, (b) => ({ remote_ip: cidr(b) }), 'principal'));
    case 'source.namespace':
      return principal(eitherTerms(either, (n) => namespaceMatcher(n, options), 'principal'));
    case 'source.principal':
      return principal(eitherTerms(either, principalMatcher, 'principal'));
    case 'destination.ip':
      return permission(eitherTerms(either, (b) => ({ destination_ip: cidr(b) }), 'permission'));
    case 'destination.port':
      return permission(eitherTerms(either, (p) => ({ destination_port: Number(p) }), 'permission'));
    case 'connection.sni':
      // gRPC's RBAC never sees the SNI (it matches an empty name): unknown there.
      return permission(SERVER_SECURITY[options.client].sni ? eitherTerms(either, (v) => ({ requested_server_name: patternMatcher(v) }), 'permission') : [UNKNOWN]);
    default:
      // Validation admits only the keys above; anything else cannot be checked.
      return permission([UNKNOWN]);
  }
}

/** Upstream's string patterns: `*` (non-empty), `prefix*`, `*suffix`, or exact. */
function patternMatcher(pattern: string, ignoreCase = false): object {
  const base = ignoreCase ? { ignore_case: true } : {};
  if (pattern === '*') return { safe_regex: { regex: '.+' } };
  if (pattern.endsWith('*')) return { prefix: pattern.slice(0, -1), ...base };
  if (pattern.startsWith('*')) return { suffix: pattern.slice(1), ...base };
  return { exact: pattern, ...base };
}

/** `<td>/ns/<ns>/sa/<sa>` patterns against the URI SAN `spiffe://…`. */
function principalMatcher(pattern: string): Principal {
  const p = pattern.startsWith('spiffe://') ? pattern.slice('spiffe://'.length) : pattern;
  if (p === '*') return { authenticated: { principal_name: { safe_regex: { regex: 'spiffe://.+' } } } };
  const matcher = p.endsWith('*') ? { prefix: `spiffe://${p.slice(0, -1)}` } : p.startsWith('*') ? { suffix: p.slice(1) } : { exact: `spiffe://${p}` };
  return { authenticated: { principal_name: matcher } };
}

/** A namespace pattern: an identity of the local trust domain (or an alias) in a matching namespace. */
function namespaceMatcher(pattern: string, options: RbacOptions): Principal {
  const domains = [options.trustDomain, ...(options.trustDomainAliases ?? [])].map(escapeRegex).join('|');
  const ns =
    pattern === '*' ? '[^/]+' : pattern.endsWith('*') ? `${escapeRegex(pattern.slice(0, -1))}[^/]*` : pattern.startsWith('*') ? `[^/]*${escapeRegex(pattern.slice(1))}` : escapeRegex(pattern);
  return { authenticated: { principal_name: { safe_regex: { regex: `spiffe://(${domains})/ns/${ns}/sa/[^/]+` } } } };
}

/** `hosts` against `:authority`, case-insensitively, with or without a port. */
function hostMatcher(pattern: string): Permission {
  const header = (m: object) => ({ header: { name: ':authority', string_match: m } });
  if (pattern === '*') return header({ safe_regex: { regex: '.+' } });
  if (pattern.endsWith('*')) return header(patternMatcher(pattern, true));
  const withPort = pattern.startsWith('*') ? { contains: `${pattern.slice(1)}:` } : { prefix: `${pattern}:` };
  return { or_rules: { rules: [header(patternMatcher(pattern, true)), header({ ...withPort, ignore_case: true })] } };
}

function cidr(block: string): object {
  const [address = '', bits] = block.split('/');
  const max = address.includes(':') ? 128 : 32;
  return { address_prefix: address, prefix_len: { value: bits === undefined ? max : Number(bits) } };
}
