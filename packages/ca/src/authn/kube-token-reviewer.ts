import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { TokenReviewResult, TokenReviewer } from './kube-token.ts';

export interface KubeTokenReviewerOptions {
  /** Credentials of Meridian itself in that cluster; they need `create tokenreviews`. */
  readonly kubeConfig: Pick<KubeConfig, 'makeApiClient'>;
}

/**
 * TokenReview through client-node. Any exception (connection refused, HTTP 4xx/5xx on the
 * review itself) propagates: per the `TokenReviewer` contract that means "no verdict".
 */
export class KubeTokenReviewer implements TokenReviewer {
  readonly #api: AuthenticationV1Api;

  constructor(options: KubeTokenReviewerOptions) {
    this.#api = options.kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async review(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    const res = await this.#api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } },
    });
    const status = res.status;
    return {
      authenticated: status?.authenticated === true,
      ...(status?.user?.username === undefined ? {} : { username: status.user.username }),
      ...(status?.audiences === undefined ? {} : { audiences: status.audiences }),
      ...(status?.error === undefined ? {} : { error: status.error }),
    };
  }
}
