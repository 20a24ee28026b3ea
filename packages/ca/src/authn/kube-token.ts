import { errorMessage } from '@meridian/model';
import { AuthMethod, authFailure, bearerToken, metadataString, parseServiceAccountUser, type AuthContext, type AuthResult, type Authenticator } from './types.ts';

/** What a TokenReview answered (`authentication.k8s.io/v1` status). */
export interface TokenReviewResult {
  readonly authenticated: boolean;
  readonly username?: string;
  /** Audiences the token was found valid for; empty means "the API server's own", i.e. not ours. */
  readonly audiences?: readonly string[];
  readonly error?: string;
}

/** One cluster's TokenReview API. */
export interface TokenReviewer {
  /**
   * Resolves with the API's verdict, whatever it is. Rejects only when no verdict could be had
   * (API unreachable, 5xx, Meridian's own credentials refused): the caller may retry later.
   */
  review(token: string, audiences: readonly string[]): Promise<TokenReviewResult>;
}

/** Request metadata naming the cluster whose API should review the token (as Istio's agent sends it). */
export const CLUSTER_ID_METADATA = 'clusterid';

export const DEFAULT_TOKEN_AUDIENCES: readonly string[] = ['istio-ca'];

export interface KubeTokenAuthenticatorOptions {
  /** The cluster a request without `clusterid` metadata belongs to. */
  readonly primaryCluster: string;
  /** Looked up on every request, so clusters added or removed at run time take effect at once. */
  readonly reviewerFor: (clusterId: string) => TokenReviewer | undefined;
  /** The token must be valid for at least one of these. Default `["istio-ca"]`. */
  readonly audiences?: readonly string[];
  /** A review slower than this counts as the API being unavailable. Default 5 s. */
  readonly timeoutMs?: number;
}

class ReviewTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReviewTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Service-account tokens checked by the Kubernetes API of the cluster the caller names. */
export class KubeTokenAuthenticator implements Authenticator {
  readonly method = AuthMethod.KubeToken;
  readonly #primary: string;
  readonly #reviewerFor: (clusterId: string) => TokenReviewer | undefined;
  readonly #audiences: readonly string[];
  readonly #timeoutMs: number;

  constructor(options: KubeTokenAuthenticatorOptions) {
    this.#primary = options.primaryCluster;
    this.#reviewerFor = options.reviewerFor;
    this.#audiences = options.audiences ?? DEFAULT_TOKEN_AUDIENCES;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    if (this.#audiences.length === 0) throw new RangeError('KubeTokenAuthenticator needs at least one audience');
  }

  async authenticate(ctx: AuthContext): Promise<AuthResult> {
    const token = bearerToken(ctx.metadata);
    if (token === undefined) return authFailure('UNAUTHENTICATED', 'no bearer token');
    const cluster = metadataString(ctx.metadata, CLUSTER_ID_METADATA) || this.#primary;
    let reviewer: TokenReviewer | undefined;
    try {
      reviewer = this.#reviewerFor(cluster);
    } catch (err) {
      return authFailure('UNAVAILABLE', `cluster "${cluster}": looking up its API failed: ${errorMessage(err)}`);
    }
    if (reviewer === undefined) return authFailure('UNAUTHENTICATED', `unknown cluster "${cluster}"`);

    let review: TokenReviewResult;
    try {
      review = await withTimeout(reviewer.review(token, this.#audiences), this.#timeoutMs);
    } catch (err) {
      return authFailure('UNAVAILABLE', `cluster "${cluster}": TokenReview failed: ${errorMessage(err)}`);
    }
    if (!review.authenticated) {
      return authFailure('UNAUTHENTICATED', `cluster "${cluster}": token not authenticated${review.error ? `: ${review.error}` : ''}`);
    }
    // An API server that ignores spec.audiences answers with none; that token is valid for the
    // API itself, not for us (TokenReviewStatus docs), so it must not pass.
    const granted = (review.audiences ?? []).filter((a) => this.#audiences.includes(a));
    if (granted.length === 0) {
      return authFailure('UNAUTHENTICATED', `cluster "${cluster}": token is not valid for audiences ${this.#audiences.join(', ')}`);
    }
    const sa = parseServiceAccountUser(review.username ?? '');
    if (sa === undefined) {
      return authFailure('PERMISSION_DENIED', `cluster "${cluster}": "${review.username ?? ''}" is not a service account`);
    }
    return { ok: true, identity: { ...sa, cluster, via: AuthMethod.KubeToken } };
  }
}
