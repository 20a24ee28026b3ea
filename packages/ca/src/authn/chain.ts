import { errorMessage } from '@meridian/model';
import type { AuthContext, AuthFailureCode, AuthResult, Authenticator } from './types.ts';

// When every method fails, the caller gets the most actionable code: UNAVAILABLE first (the
// answer may differ once an API is back, so the agent should retry), then PERMISSION_DENIED
// (it proved an identity, just not one we issue for), then UNAUTHENTICATED.
const precedence: Readonly<Record<AuthFailureCode, number>> = { UNAVAILABLE: 3, PERMISSION_DENIED: 2, UNAUTHENTICATED: 1 };

/**
 * Tries each authenticator in the given order; the first success wins. The order is the
 * caller's policy (the certificate service uses: client certificate, local JWT issuers,
 * Kubernetes TokenReview: cheapest and strongest first). All reasons are kept for the log.
 */
export async function authenticateInOrder(authenticators: readonly Authenticator[], ctx: AuthContext): Promise<AuthResult> {
  if (authenticators.length === 0) return { ok: false, code: 'UNAUTHENTICATED', reason: 'no authenticators configured' };
  let worst: AuthFailureCode = 'UNAUTHENTICATED';
  const reasons: string[] = [];
  for (const a of authenticators) {
    let result: AuthResult;
    try {
      result = await a.authenticate(ctx);
    } catch (err) {
      // Authenticators promise not to throw; if one does, treat it as broken infrastructure.
      result = { ok: false, code: 'UNAVAILABLE', reason: `authenticator threw: ${errorMessage(err)}` };
    }
    if (result.ok) return result;
    reasons.push(`${a.method}: ${result.reason}`);
    if (precedence[result.code] > precedence[worst]) worst = result.code;
  }
  return { ok: false, code: worst, reason: reasons.join('; ') };
}
