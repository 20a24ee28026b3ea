/**
 * What proxyless gRPC servers cannot honour of PeerAuthentication, AuthorizationPolicy and
 * RequestAuthentication as written, for the policy report. The xds compiler acts the
 * same way (`xds/src/rbac.ts`, `grpc-listeners.ts`): never looser than written.
 */
import { ClientKind } from '@meridian/model';
import type { ObjectLimits } from '../compile/traffic-policies.ts';
import type { PolicyObject, PolicyObjectOf } from '../policy-object.ts';
import { DRY_RUN_ANNOTATION } from './compile-authorization.ts';

export function securityLimits(objects: readonly PolicyObject[]): ObjectLimits[] {
  const limits: ObjectLimits[] = [];
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
    if (o.kind === 'RequestAuthentication') {
      // Not looser either: the RBAC compiler treats request.auth fields as unknown on such servers.
      limits.push({ ref, client: ClientKind.Grpc, omit: ['spec.jwtRules (proxyless gRPC servers validate no JWT: an AuthorizationPolicy rule on a request principal or claim matches nothing there if it allows, and denies without that field if it denies)'], ignored: [] });
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
    });
    if (omit.length || ignored.length) limits.push({ ref, client: ClientKind.Grpc, omit, ignored });
  }
  return limits;
}
