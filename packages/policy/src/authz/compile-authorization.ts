/** AuthorizationPolicy objects compiled into the shared authorization model. */
import type { AuthzPolicy, AuthzRule, Either } from '@meridian/model';
import type { PolicyObjectOf } from '../policy-object.ts';
import { ProblemSeverity, type CompileProblem } from '../compile/problems.ts';

/** Istio's annotation for a policy that is evaluated and counted but never enforced. */
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

export interface AuthorizationCompileOptions {
  /** Policies in this namespace apply mesh-wide (Istio's root namespace: Meridian's own). */
  readonly rootNamespace: string;
}

function either<T>(values: readonly T[] | undefined, not: readonly T[] | undefined): Either<T> {
  return { values: values ?? [], not: not ?? [] };
}

export function compileAuthorization(
  objects: ReadonlyArray<PolicyObjectOf<'AuthorizationPolicy'>>,
  options: AuthorizationCompileOptions,
): { readonly policies: AuthzPolicy[]; readonly problems: CompileProblem[] } {
  const problems: CompileProblem[] = [];
  const policies: AuthzPolicy[] = [];
  for (const ap of objects) {
    const ref = { kind: ap.kind, namespace: ap.namespace, name: ap.name };
    const { spec } = ap;
    if (spec.targetRef || spec.targetRefs) {
      problems.push({ ref, path: spec.targetRef ? 'spec.targetRef' : 'spec.targetRefs', message: 'targetRefs are not supported yet; use a selector. The policy is not applied', severity: ProblemSeverity.Error });
      continue;
    }
    const action = spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') {
      problems.push({ ref, path: 'spec.action', message: 'CUSTOM (external authorization) is not supported; the policy is not applied', severity: ProblemSeverity.Error });
      continue;
    }
    const dryRunText = ap.annotations[DRY_RUN_ANNOTATION];
    if (dryRunText !== undefined && dryRunText !== 'true' && dryRunText !== 'false') {
      problems.push({ ref, path: `metadata.annotations["${DRY_RUN_ANNOTATION}"]`, message: `must be "true" or "false", got ${JSON.stringify(dryRunText)}; treated as dry-run`, severity: ProblemSeverity.Warning });
    }
    const rules = (spec.rules ?? []).map((r): AuthzRule => ({
      from: (r.from ?? []).map(({ source: s }) => ({
        principals: either(s.principals, s.notPrincipals),
        requestPrincipals: either(s.requestPrincipals, s.notRequestPrincipals),
        namespaces: either(s.namespaces, s.notNamespaces),
        ipBlocks: either(s.ipBlocks, s.notIpBlocks),
        remoteIpBlocks: either(s.remoteIpBlocks, s.notRemoteIpBlocks),
      })),
      to: (r.to ?? []).map(({ operation: o }) => ({
        hosts: either(o.hosts, o.notHosts),
        ports: either(o.ports?.map(Number), o.notPorts?.map(Number)),
        methods: either(o.methods, o.notMethods),
        paths: either(o.paths, o.notPaths),
      })),
      when: (r.when ?? []).map((c) => ({ key: c.key, values: c.values ?? [], notValues: c.notValues ?? [] })),
    }));
    const labels = spec.selector?.matchLabels;
    policies.push({
      source: { ...ref, path: 'spec' },
      action,
      rules,
      ...(labels && Object.keys(labels).length ? { selector: labels } : {}),
      dryRun: dryRunText !== undefined && dryRunText !== 'false',
      scope: ap.namespace === options.rootNamespace ? { meshWide: true } : { namespace: ap.namespace },
    });
  }
  return { policies, problems };
}
