// Authentication (401), authorization (403), TokenReview, SelfSubjectRulesReview
// and TokenRequest, through the real client-node API classes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { PolicyBinding } from './authz.ts';
import { KubeApiServer, type KubeApiServerOptions } from './server.ts';
import { eventually, statusBodyOf, statusCodeOf } from './test-support.ts';

const READER = 'system:serviceaccount:meridian:reader';
const REVIEWER = 'system:serviceaccount:meridian:reviewer';

const policy: PolicyBinding[] = [
  { user: READER, rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['services', 'pods'], namespaces: ['shop'] }] },
  {
    user: REVIEWER,
    rules: [
      { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'] },
      { verbs: ['create'], apiGroups: [''], resources: ['serviceaccounts/token'] },
      { verbs: ['*'], apiGroups: [''], resources: ['serviceaccounts'] },
    ],
  },
];

async function startServer(options: KubeApiServerOptions): Promise<KubeApiServer> {
  const s = await KubeApiServer.start(options);
  after(() => s.close());
  return s;
}

async function rejectsWith(p: Promise<unknown>, code: number, reason: string): Promise<string> {
  let message = '';
  await assert.rejects(p, (err: unknown) => {
    assert.equal(statusCodeOf(err), code);
    // client-node drops the body of a 401 (its generated code throws without it).
    if (code === 401) return true;
    const body = statusBodyOf(err);
    assert.equal(body.reason, reason);
    message = body.message ?? '';
    return true;
  });
  return message;
}

describe('authentication and authorization', () => {
  it('answers 401 for a missing, unknown or expired token, and records the user of good ones', async () => {
    const s = await startServer({
      tokens: { good: { username: READER }, old: { username: READER, expiresAt: Date.now() - 1000 } },
    });
    for (const token of [undefined, 'bogus', 'old']) {
      const core = s.kubeConfig(token === undefined ? {} : { token }).makeApiClient(k8s.CoreV1Api);
      await rejectsWith(core.listNamespacedService({ namespace: 'shop' }), 401, 'Unauthorized');
    }
    await s.kubeConfig({ token: 'good' }).makeApiClient(k8s.CoreV1Api).listNamespacedService({ namespace: 'shop' });
    const raw = await fetch(`${s.url}/api/v1/namespaces/shop/services`, { headers: { authorization: 'Bearer bogus' } });
    assert.deepEqual(await raw.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    assert.deepEqual(s.requests({ verb: 'list' }).map((r) => [r.status, r.user]), [[401, undefined], [401, undefined], [401, undefined], [200, READER], [401, undefined]]);
  });

  it('lets anonymous requests in when allowed', async () => {
    const s = await startServer({ tokens: { good: { username: READER } }, anonymous: true });
    await s.kubeConfig().makeApiClient(k8s.CoreV1Api).listNamespacedService({ namespace: 'x' });
    assert.equal(s.requests()[0]?.user, 'system:anonymous');
    s.anonymous = false;
    await rejectsWith(s.kubeConfig().makeApiClient(k8s.CoreV1Api).listNamespacedService({ namespace: 'x' }), 401, 'Unauthorized');
  });

  it('answers 403 Forbidden outside the granted verbs, resources and namespaces', async () => {
    const s = await startServer({ tokens: { r: { username: READER } }, authorization: policy });
    const core = s.kubeConfig({ token: 'r' }).makeApiClient(k8s.CoreV1Api);
    s.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' } });
    assert.equal((await core.listNamespacedService({ namespace: 'shop' })).items.length, 1);
    await core.readNamespacedService({ name: 'cart', namespace: 'shop' });
    const message = await rejectsWith(core.listNamespacedService({ namespace: 'kube-system' }), 403, 'Forbidden');
    assert.match(message, /User "system:serviceaccount:meridian:reader" cannot list resource "services" in API group "" in the namespace "kube-system"/);
    await rejectsWith(core.listServiceForAllNamespaces(), 403, 'Forbidden');
    await rejectsWith(core.createNamespacedService({ namespace: 'shop', body: { metadata: { name: 'x' } } }), 403, 'Forbidden');
    await rejectsWith(core.listNamespacedSecret({ namespace: 'shop' }), 403, 'Forbidden');
  });

  it('an informer without permission gets a 403 error and stops', async () => {
    const s = await startServer({ tokens: { r: { username: READER } }, authorization: policy });
    const kc = s.kubeConfig({ token: 'r' });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(kc, '/api/v1/secrets', () => core.listSecretForAllNamespaces());
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await informer.start();
    await eventually('error', () => errors.length === 1);
    assert.equal(statusCodeOf(errors[0]), 403);
    assert.equal(s.requests({ verb: 'watch' }).length, 0);
  });

  it('TokenReview authenticates configured tokens, honouring audiences and expiry', async () => {
    const s = await startServer({
      tokens: {
        reviewer: { username: REVIEWER },
        legacy: { username: 'system:serviceaccount:shop:default', uid: 'u-1' },
        bound: { username: 'system:serviceaccount:shop:cart', audiences: ['istio-ca'] },
        expired: { username: 'system:serviceaccount:shop:cart', expiresAt: new Date(Date.now() - 1000) },
      },
      authorization: policy,
    });
    const authn = s.kubeConfig({ token: 'reviewer' }).makeApiClient(k8s.AuthenticationV1Api);
    const review = async (token: string, audiences?: string[]): Promise<k8s.V1TokenReviewStatus> =>
      (await authn.createTokenReview({ body: { spec: { token, ...(audiences ? { audiences } : {}) } } })).status ?? {};

    const legacy = await review('legacy');
    assert.equal(legacy.authenticated, true);
    assert.deepEqual({ ...legacy.user }, {
      username: 'system:serviceaccount:shop:default',
      uid: 'u-1',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'],
    });
    assert.ok((legacy.audiences ?? []).includes('https://kubernetes.default.svc'));

    const bound = await review('bound', ['istio-ca', 'other']);
    assert.equal(bound.authenticated, true);
    assert.deepEqual(bound.audiences, ['istio-ca']);
    assert.equal((await review('bound')).authenticated, false, 'no audiences = the API audiences, which the token lacks');
    assert.equal((await review('bound', ['other'])).authenticated, false);

    const expired = await review('expired');
    assert.equal(expired.authenticated, false);
    assert.match(expired.error ?? '', /expired/);
    assert.equal((await review('nope')).authenticated, false);

    // A token bound to another audience cannot call the API itself.
    await rejectsWith(s.kubeConfig({ token: 'bound' }).makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'shop' }), 401, 'Unauthorized');
    // Reviews need permission like any other create.
    await rejectsWith(s.kubeConfig({ token: 'legacy' }).makeApiClient(k8s.AuthenticationV1Api).createTokenReview({ body: { spec: { token: 'legacy' } } }), 403, 'Forbidden');
  });

  it('SelfSubjectRulesReview returns the caller’s rules for the namespace', async () => {
    const s = await startServer({ tokens: { r: { username: READER } }, authorization: policy });
    const authz = s.kubeConfig({ token: 'r' }).makeApiClient(k8s.AuthorizationV1Api);
    const inShop = await authz.createSelfSubjectRulesReview({ body: { spec: { namespace: 'shop' } } });
    const rules = inShop.status?.resourceRules ?? [];
    assert.ok(rules.some((r) => r.verbs.includes('watch') && (r.resources ?? []).includes('services') && (r.apiGroups ?? []).includes('')));
    const elsewhere = await authz.createSelfSubjectRulesReview({ body: { spec: { namespace: 'other' } } });
    assert.ok(!(elsewhere.status?.resourceRules ?? []).some((r) => (r.resources ?? []).includes('services')));
    assert.equal(inShop.status?.incomplete, false);

    const access = await authz.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'shop' } } },
    });
    assert.equal(access.status?.allowed, true);

    const open = await startServer({});
    const all = await open.kubeConfig().makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectRulesReview({ body: { spec: { namespace: 'x' } } });
    assert.deepEqual(all.status?.resourceRules?.[0]?.verbs, ['*']);
  });

  it('TokenRequest mints a service-account token the server and TokenReview accept', async () => {
    const s = await startServer({ tokens: { reviewer: { username: REVIEWER } }, authorization: policy });
    const core = s.kubeConfig({ token: 'reviewer' }).makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: 'shop', body: { metadata: { name: 'cart' } } });
    const sa = await core.readNamespacedServiceAccount({ name: 'cart', namespace: 'shop' });
    const issued = await core.createNamespacedServiceAccountToken({
      name: 'cart',
      namespace: 'shop',
      body: { spec: { audiences: ['istio-ca'], expirationSeconds: 3600 } },
    });
    const token = issued.status?.token ?? '';
    assert.equal(token.split('.').length, 3, 'a JWT');
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string; aud: string[] };
    assert.equal(claims.sub, 'system:serviceaccount:shop:cart');
    assert.deepEqual(claims.aud, ['istio-ca']);
    const status = (await s.kubeConfig({ token: 'reviewer' }).makeApiClient(k8s.AuthenticationV1Api).createTokenReview({ body: { spec: { token, audiences: ['istio-ca'] } } })).status;
    assert.equal(status?.authenticated, true);
    assert.equal(status?.user?.username, 'system:serviceaccount:shop:cart');
    assert.equal(status?.user?.uid, sa.metadata?.uid);

    // A token for the API's own audience works as a credential (what create-remote-secret relies on).
    const apiToken = (await core.createNamespacedServiceAccountToken({ name: 'cart', namespace: 'shop', body: { spec: {} } })).status?.token ?? '';
    s.setAuthorization([...policy, { user: 'system:serviceaccount:shop:cart', rules: [{ verbs: ['list'], resources: ['services'] }] }]);
    const kc = new k8s.KubeConfig();
    kc.loadFromString(s.kubeconfigYaml({ token: apiToken, clusterName: 'remote' }));
    assert.equal((await kc.makeApiClient(k8s.CoreV1Api).listServiceForAllNamespaces()).kind, 'ServiceList');
    await rejectsWith(core.createNamespacedServiceAccountToken({ name: 'ghost', namespace: 'shop', body: { spec: {} } }), 404, 'NotFound');
  });
});
