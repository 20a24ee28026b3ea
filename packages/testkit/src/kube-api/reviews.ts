// The "virtual" APIs that compute an answer instead of storing an object:
// TokenReview, SelfSubjectRulesReview, SelfSubjectAccessReview and the
// ServiceAccount TokenRequest subresource.
import type { TokenAuthenticator } from './auth.ts';
import type { RuleAuthorizer } from './authz.ts';
import type { ResourceType } from './resources.ts';
import { fail, ok, Statuses } from './status.ts';
import type { ObjectStore } from './store.ts';
import type { ApiResult, KubeObject, UserInfo } from './types.ts';

type Json = Record<string, unknown>;

function record(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function echo(body: KubeObject, apiVersion: string, kind: string): KubeObject {
  return { kind, apiVersion, metadata: { ...record(body.metadata) }, spec: record(body['spec']) };
}

export function tokenReview(auth: TokenAuthenticator, body: KubeObject): ApiResult<KubeObject> {
  const spec = record(body['spec']);
  const token = typeof spec['token'] === 'string' ? spec['token'] : '';
  const audiences = strings(spec['audiences']);
  const result = auth.authenticate(token, audiences);
  // A real API server never echoes the token back; neither do we.
  const out = echo(body, 'authentication.k8s.io/v1', 'TokenReview');
  const outSpec = record(out['spec']);
  delete outSpec['token'];
  out['spec'] = { ...outSpec, ...(audiences.length > 0 ? { audiences } : {}) };
  if (!result.ok) {
    out['status'] = { authenticated: false, user: {}, error: `[${result.error}]` };
    return ok(out);
  }
  out['status'] = {
    authenticated: true,
    user: { username: result.user.username, ...(result.user.uid !== undefined ? { uid: result.user.uid } : {}), groups: [...result.user.groups] },
    audiences: [...result.audiences],
  };
  return ok(out);
}

export function selfSubjectRulesReview(authz: RuleAuthorizer, user: UserInfo, body: KubeObject): ApiResult<KubeObject> {
  const namespace = typeof record(body['spec'])['namespace'] === 'string' ? String(record(body['spec'])['namespace']) : '';
  const out = echo(body, 'authorization.k8s.io/v1', 'SelfSubjectRulesReview');
  out['status'] = {
    resourceRules: authz.rulesIn(user, namespace),
    nonResourceRules: authz.policy === 'AlwaysAllow' ? [{ verbs: ['*'], nonResourceURLs: ['*'] }] : [],
    incomplete: false,
  };
  return ok(out);
}

export function selfSubjectAccessReview(authz: RuleAuthorizer, user: UserInfo, body: KubeObject): ApiResult<KubeObject> {
  const attrs = record(record(body['spec'])['resourceAttributes']);
  const str = (k: string): string => (typeof attrs[k] === 'string' ? String(attrs[k]) : '');
  const sub = str('subresource');
  const allowed = authz.allows(user, {
    verb: str('verb'),
    group: str('group'),
    resource: sub ? `${str('resource')}/${sub}` : str('resource'),
    namespace: str('namespace'),
    ...(str('name') ? { name: str('name') } : {}),
  });
  const out = echo(body, 'authorization.k8s.io/v1', 'SelfSubjectAccessReview');
  out['status'] = { allowed, ...(allowed ? { reason: 'allowed by testkit policy' } : {}) };
  return ok(out);
}

export function serviceAccountToken(
  store: ObjectStore,
  auth: TokenAuthenticator,
  saType: ResourceType,
  namespace: string,
  name: string,
  body: KubeObject,
): ApiResult<KubeObject> {
  const sa = store.get(saType, namespace, name);
  if (sa === undefined) return fail(Statuses.notFound({ group: '', resource: 'serviceaccounts', name }));
  const spec = record(body['spec']);
  const expirationSeconds = typeof spec['expirationSeconds'] === 'number' ? spec['expirationSeconds'] : 3600;
  const issued = auth.issueServiceAccountToken({
    namespace,
    name,
    ...(sa.metadata?.uid !== undefined ? { uid: sa.metadata.uid } : {}),
    audiences: strings(spec['audiences']),
    expirationSeconds,
  });
  return ok({
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace, creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    spec: { audiences: [...issued.audiences], expirationSeconds, boundObjectRef: spec['boundObjectRef'] ?? null },
    status: { token: issued.token, expirationTimestamp: issued.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  });
}
