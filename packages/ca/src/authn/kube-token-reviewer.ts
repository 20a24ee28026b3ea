import type { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
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
  readonly #kubeConfig: Pick<KubeConfig, 'makeApiClient'>;
  /** Made on the first review: client-node is loaded only when a cluster reviews tokens. */
  #api: AuthenticationV1Api | undefined;

  constructor(options: KubeTokenReviewerOptions) {
    this.#kubeConfig = options.kubeConfig;
  }

  async review(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    this.#api ??= this.#kubeConfig.makeApiClient((await import('@kubernetes/client-node')).AuthenticationV1Api);
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
