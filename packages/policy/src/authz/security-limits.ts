/**
 * What proxyless gRPC servers cannot honour of PeerAuthentication and AuthorizationPolicy as
 * written, and what no client enforces yet, for the policy report. The xds compiler acts the
 * same way (`xds/src/rbac.ts`, `grpc-listeners.ts`): never looser than written.
 */
import { ClientKind } from '@meridian/model';
import type { ObjectLimits } from '../compile/traffic-policies.ts';
import { ProblemSeverity, type CompileProblem } from '../compile/problems.ts';
import type { PolicyObject, PolicyObjectOf } from '../policy-object.ts';
import { DRY_RUN_ANNOTATION } from './compile-authorization.ts';

export function securityLimits(objects: readonly PolicyObject[]): { readonly limits: ObjectLimits[]; readonly problems: CompileProblem[] } {
  const limits: ObjectLimits[] = [];
  const problems: CompileProblem[] = [];
  for (const o of objects) {
    const ref = { kind: o.kind, namespace: o.namespace, name: o.name };
    if (o.kind === 'PeerAuthentication') {
      const spec = (o as PolicyObjectOf<'PeerAuthentication'>).spec;
      const permissive = [
        ...(spec.mtls?.mode === 'PERMISSIVE' ? ['spec.mtls.mode'] : []),
        ...Object.entries(spec.portLevelMtls ?? {}).filter(([, m]) => m.mode === 'PERMISSIVE').map(([port]) => `spec.portLevelMtls["${port}"].mode`),
      ];
      // Stricter, not looser: a gRPC server cannot take plaintext and TLS on one port.
      if (permissive.length) limits.push({ ref, client: ClientKind.Grpc, omit: [], ignored: permissive.map((p) => `${p} (PERMISSIVE is served as STRICT)`) });
    }
    if (o.kind !== 'AuthorizationPolicy') continue;
    const ap = o as PolicyObjectOf<'AuthorizationPolicy'>;
    const omit: string[] = [];
    const ignored: string[] = [];
    if (ap.spec.action === 'AUDIT') omit.push('spec.action (AUDIT: gRPC rejects RBAC LOG)');
    const dryRun = ap.annotations[DRY_RUN_ANNOTATION];
    if (dryRun !== undefined && dryRun !== 'false') ignored.push(`metadata.annotations["${DRY_RUN_ANNOTATION}"] (not counted: gRPC ignores shadow rules)`);
    (ap.spec.rules ?? []).forEach((rule, i) => {
      (rule.when ?? []).forEach((c, j) => {
        if (c.key === 'connection.sni') ignored.push(`spec.rules[${i}].when[${j}] (gRPC cannot see the SNI: ${ap.spec.action === 'DENY' ? 'the rule denies without it' : 'the rule matches nothing'})`);
      });
      const jwtFields = [
        ...(rule.from ?? []).flatMap((f, j) =>
          [f.source.requestPrincipals ? `spec.rules[${i}].from[${j}].source.requestPrincipals` : '', f.source.notRequestPrincipals ? `spec.rules[${i}].from[${j}].source.notRequestPrincipals` : ''].filter(Boolean),
        ),
        ...(rule.when ?? []).flatMap((c, j) => (c.key.startsWith('request.auth.') ? [`spec.rules[${i}].when[${j}]`] : [])),
      ];
      for (const path of jwtFields) {
        problems.push({ ref, path, message: 'request authentication is not enforced yet, so no request carries a request principal or claims: this field matches as absent', severity: ProblemSeverity.Part });
      }
    });
    if (omit.length || ignored.length) limits.push({ ref, client: ClientKind.Grpc, omit, ignored });
  }
  return { limits, problems };
}
