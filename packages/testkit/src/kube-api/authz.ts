// A tiny RBAC: bindings of users or groups to rules of verbs × API groups ×
// resources (× names) in some or all namespaces. Enough to produce the 403s and
// SelfSubjectRulesReview answers that components meet on locked-down clusters.
import type { UserInfo, Verb } from './types.ts';

export interface PolicyRule {
  /** e.g. ['get', 'list', 'watch'] or ['*']. */
  verbs: readonly string[];
  /** API groups ('' for core); omitted means any group. */
  apiGroups?: readonly string[];
  /** Plural resources, optionally with a subresource ('serviceaccounts/token'), or '*'. */
  resources: readonly string[];
  resourceNames?: readonly string[];
  /** Namespaces the rule applies in (like a RoleBinding); omitted means everywhere, cluster scope included (a ClusterRoleBinding). */
  namespaces?: readonly string[];
}

export interface PolicyBinding {
  /** A username such as 'system:serviceaccount:meridian:reader'. */
  user?: string;
  /** Or a group, such as 'system:authenticated'. */
  group?: string;
  rules: readonly PolicyRule[];
}

/** 'AlwaysAllow' (the default) or a list of bindings; anything not granted is forbidden. */
export type AuthorizationPolicy = 'AlwaysAllow' | readonly PolicyBinding[];

export interface ResourceAttributes {
  verb: Verb | string;
  group: string;
  /** Plural resource, with '/subresource' appended when there is one. */
  resource: string;
  namespace: string;
  name?: string;
}

function hit(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.includes('*') || list.includes(value);
}

function ruleAllows(rule: PolicyRule, a: ResourceAttributes): boolean {
  if (!hit(rule.verbs, a.verb)) return false;
  if (!hit(rule.apiGroups, a.group)) return false;
  if (!hit(rule.resources, a.resource)) return false;
  if (rule.namespaces !== undefined && !rule.namespaces.includes('*') && !(a.namespace && rule.namespaces.includes(a.namespace))) return false;
  // As in RBAC, a names restriction never grants list/watch/create of the whole collection.
  if (rule.resourceNames !== undefined && rule.resourceNames.length > 0) return a.name !== undefined && rule.resourceNames.includes(a.name);
  return true;
}

/** What every authenticated user may do on a real cluster (system:basic-user). */
const BASIC_USER_RULES: readonly PolicyRule[] = [
  { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
];

export class RuleAuthorizer {
  #policy: AuthorizationPolicy;

  constructor(policy: AuthorizationPolicy = 'AlwaysAllow') {
    this.#policy = policy;
  }

  set policy(policy: AuthorizationPolicy) {
    this.#policy = policy;
  }

  get policy(): AuthorizationPolicy {
    return this.#policy;
  }

  #rules(user: UserInfo): PolicyRule[] {
    if (this.#policy === 'AlwaysAllow') return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];
    const rules: PolicyRule[] = user.groups.includes('system:authenticated') ? [...BASIC_USER_RULES] : [];
    for (const b of this.#policy) {
      if ((b.user !== undefined && b.user === user.username) || (b.group !== undefined && user.groups.includes(b.group))) rules.push(...b.rules);
    }
    return rules;
  }

  allows(user: UserInfo, attrs: ResourceAttributes): boolean {
    return this.#rules(user).some((r) => ruleAllows(r, attrs));
  }

  /** The rules that apply to `user` in `namespace`, in SelfSubjectRulesReview's shape. */
  rulesIn(user: UserInfo, namespace: string): { verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }[] {
    return this.#rules(user)
      .filter((r) => r.namespaces === undefined || r.namespaces.includes('*') || r.namespaces.includes(namespace))
      .map((r) => ({
        verbs: [...r.verbs],
        apiGroups: [...(r.apiGroups ?? ['*'])],
        resources: [...r.resources],
        ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}),
      }));
  }
}
