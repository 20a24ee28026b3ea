/** RequestAuthentication objects compiled into the shared model (`RequestAuthn`). */
import type { JwtRule, RequestAuthn } from '@meridian/model';
import { ProblemSeverity, type CompileProblem } from '../compile/problems.ts';
import type { PolicyObjectOf } from '../policy-object.ts';
import { parseDurationMs } from '../schemas/common.ts';

export function compileRequestAuthentication(
  objects: ReadonlyArray<PolicyObjectOf<'RequestAuthentication'>>,
  options: { readonly rootNamespace: string },
): { readonly policies: RequestAuthn[]; readonly problems: CompileProblem[] } {
  const problems: CompileProblem[] = [];
  const policies: RequestAuthn[] = [];
  for (const ra of objects) {
    const ref = { kind: ra.kind, namespace: ra.namespace, name: ra.name };
    const { spec } = ra;
    if (spec.targetRef || spec.targetRefs) {
      problems.push({ ref, path: spec.targetRef ? 'spec.targetRef' : 'spec.targetRefs', message: 'targetRefs are not supported yet; use a selector. The policy is not applied', severity: ProblemSeverity.Error });
      continue;
    }
    const rules: JwtRule[] = [];
    (spec.jwtRules ?? []).forEach((r, i) => {
      if (!r.jwks && !r.jwksUri) {
        // Upstream would discover the keys through OpenID Connect; Meridian asks for them.
        problems.push({ ref, path: `spec.jwtRules[${i}]`, message: `issuer ${r.issuer}: give jwks or jwksUri (OpenID discovery is not done); tokens of this issuer are refused`, severity: ProblemSeverity.Part });
      }
      const timeoutMs = r.timeout === undefined ? undefined : parseDurationMs(r.timeout);
      rules.push({
        issuer: r.issuer,
        audiences: r.audiences ?? [],
        jwks: r.jwksUri ? { uri: r.jwksUri } : { inline: r.jwks ?? '{"keys":[]}' },
        fromHeaders: r.fromHeaders ?? [],
        fromParams: r.fromParams ?? [],
        fromCookies: r.fromCookies ?? [],
        forwardOriginalToken: r.forwardOriginalToken ?? false,
        ...(r.outputPayloadToHeader ? { outputPayloadToHeader: r.outputPayloadToHeader } : {}),
        outputClaimToHeaders: r.outputClaimToHeaders ?? [],
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
    });
    const labels = spec.selector?.matchLabels;
    policies.push({
      source: { ...ref, path: 'spec' },
      rules,
      ...(labels && Object.keys(labels).length ? { selector: labels } : {}),
      scope: ra.namespace === options.rootNamespace ? { meshWide: true } : { namespace: ra.namespace },
    });
  }
  return { policies, problems };
}
