import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeTokenAuthenticator, type TokenReviewResult, type TokenReviewer } from './kube-token.ts';
import { grpcMetadata } from '../testing/index.ts';
import { AuthMethod, type AuthResult } from './types.ts';

/** A recording fake: answers from a table, or however `answer` says. */
class FakeReviewer implements TokenReviewer {
  readonly calls: { token: string; audiences: readonly string[] }[] = [];
  answer: (token: string) => Promise<TokenReviewResult>;

  constructor(options: { readonly answer: (token: string) => Promise<TokenReviewResult> }) {
    this.answer = options.answer;
  }

  review(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    this.calls.push({ token, audiences });
    return this.answer(token);
  }
}

const valid = (username: string, audiences: readonly string[] = ['istio-ca']): Promise<TokenReviewResult> =>
  Promise.resolve({ authenticated: true, username, audiences });

function setup(answer: (token: string) => Promise<TokenReviewResult>, timeoutMs?: number) {
  const reviewers = { primary: new FakeReviewer({ answer }), remote: new FakeReviewer({ answer }) };
  const authn = new KubeTokenAuthenticator({
    primaryCluster: 'primary',
    reviewerFor: (id) => (id === 'primary' || id === 'remote' ? reviewers[id] : undefined),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  const run = (md: Record<string, string>): Promise<AuthResult> => authn.authenticate({ metadata: grpcMetadata(md) });
  return { reviewers, run };
}

describe('KubeTokenAuthenticator', () => {
  it('asks the primary by default, the named cluster otherwise, for audience istio-ca', async () => {
    const { reviewers, run } = setup(() => valid('system:serviceaccount:shop:cart'));
    assert.deepEqual(await run({ authorization: 'Bearer t1' }), {
      ok: true,
      identity: { namespace: 'shop', serviceAccount: 'cart', cluster: 'primary', via: AuthMethod.KubeToken },
    });
    const r = await run({ authorization: 'Bearer t2', clusterid: 'remote' });
    assert.ok(r.ok && r.identity.cluster === 'remote');
    assert.deepEqual(reviewers.primary.calls, [{ token: 't1', audiences: ['istio-ca'] }]);
    assert.deepEqual(reviewers.remote.calls, [{ token: 't2', audiences: ['istio-ca'] }]);
  });

  it('refuses an unknown cluster without asking anyone', async () => {
    const { reviewers, run } = setup(() => valid('system:serviceaccount:shop:cart'));
    const r = await run({ authorization: 'Bearer t', clusterid: 'nowhere' });
    assert.ok(!r.ok && r.code === 'UNAUTHENTICATED' && /unknown cluster "nowhere"/.test(r.reason));
    assert.equal(reviewers.primary.calls.length + reviewers.remote.calls.length, 0);
  });

  it('UNAUTHENTICATED when the API says no, or grants no audience of ours', async () => {
    const no = await setup(() => Promise.resolve({ authenticated: false, error: 'token expired' })).run({ authorization: 'Bearer t' });
    assert.ok(!no.ok && no.code === 'UNAUTHENTICATED' && /token expired/.test(no.reason));
    // An API server that ignores spec.audiences answers with none: valid for the API, not for us.
    const legacy = await setup(() => valid('system:serviceaccount:shop:cart', [])).run({ authorization: 'Bearer t' });
    assert.ok(!legacy.ok && legacy.code === 'UNAUTHENTICATED');
  });

  it('PERMISSION_DENIED for a user that is not a service account', async () => {
    const r = await setup(() => valid('alice')).run({ authorization: 'Bearer t' });
    assert.ok(!r.ok && r.code === 'PERMISSION_DENIED');
  });

  it('UNAVAILABLE when the review fails or hangs', async () => {
    const down = await setup(() => Promise.reject(new Error('connect ECONNREFUSED'))).run({ authorization: 'Bearer t' });
    assert.ok(!down.ok && down.code === 'UNAVAILABLE' && /ECONNREFUSED/.test(down.reason));
    const hung = await setup(() => new Promise<never>(() => undefined), 20).run({ authorization: 'Bearer t' });
    assert.ok(!hung.ok && hung.code === 'UNAVAILABLE' && /within 20 ms/.test(hung.reason));
  });

  it('needs a bearer token', async () => {
    const { run } = setup(() => valid('system:serviceaccount:shop:cart'));
    for (const md of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
      const r = await run(md);
      assert.ok(!r.ok && r.reason === 'no bearer token', JSON.stringify(md));
    }
  });
});
