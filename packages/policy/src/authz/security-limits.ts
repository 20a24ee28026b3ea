/**
 * What each client kind's servers cannot honour of PeerAuthentication, AuthorizationPolicy and
 * RequestAuthentication as written, for the policy report: the capabilities the RBAC compiler
 * acts on (`SERVER_SECURITY`), so the report and the compiler agree: never looser than written.
 */
import { SERVER_SECURITY, type ClientKind, type ServerSecurityCapabilities } from '@meridian/model';
import type { ObjectLimits } from '../compile/traffic-policies.ts';
import type { PolicyObject, PolicyObjectOf } from '../policy-object.ts';
import { DRY_RUN_ANNOTATION } from './compile-authorization.ts';

export function securityLimits(objects: readonly PolicyObject[]): ObjectLimits[] {
  const limits: ObjectLimits[] = [];
  for (const [client, can] of Object.entries(SERVER_SECURITY) as Array<[ClientKind, ServerSecurityCapabilities]>) {
    for (const o of objects) {
      const { omit, ignored } = objectLimits(o, can, client);
      if (omit.length || ignored.length) limits.push({ ref: { kind: o.kind, namespace: o.namespace, name: o.name }, client, omit, ignored });
    }
  }
  return limits;
}

function objectLimits(o: PolicyObject, can: ServerSecurityCapabilities, client: ClientKind): { omit: string[]; ignored: string[] } {
  const omit: string[] = [];
  const ignored: string[] = [];
  if (o.kind === 'PeerAuthentication' && !can.permissive) {
    const spec = (o as PolicyObjectOf<'PeerAuthentication'>).spec;
    // Stricter, not looser: such a server cannot take plaintext and TLS on one port.
    if (spec.mtls?.mode === 'PERMISSIVE') ignored.push('spec.mtls.mode (PERMISSIVE is served as STRICT)');
    for (const [port, m] of Object.entries(spec.portLevelMtls ?? {})) if (m.mode === 'PERMISSIVE') ignored.push(`spec.portLevelMtls["${port}"].mode (PERMISSIVE is served as STRICT)`);
  }
  if (o.kind === 'RequestAuthentication' && !can.jwt) {
    // Not looser either: the RBAC compiler treats request.auth fields as unknown on such servers.
    omit.push(`spec.jwtRules (${client} servers validate no JWT: an AuthorizationPolicy rule on a request principal or claim matches nothing there if it allows, and denies without that field if it denies)`);
  }
  if (o.kind !== 'AuthorizationPolicy') return { omit, ignored };
  const ap = o as PolicyObjectOf<'AuthorizationPolicy'>;
  if (ap.spec.action === 'AUDIT' && !can.auditLog) omit.push(`spec.action (AUDIT: ${client} rejects RBAC LOG)`);
  const dryRun = ap.annotations[DRY_RUN_ANNOTATION];
  if (dryRun !== undefined && dryRun !== 'false' && !can.shadowRules) ignored.push(`metadata.annotations["${DRY_RUN_ANNOTATION}"] (not counted: ${client} ignores shadow rules)`);
  if (!can.sni) {
    (ap.spec.rules ?? []).forEach((rule, i) => {
      (rule.when ?? []).forEach((c, j) => {
        if (c.key === 'connection.sni') ignored.push(`spec.rules[${i}].when[${j}] (${client} cannot see the SNI: ${ap.spec.action === 'DENY' ? 'the rule denies without it' : 'the rule matches nothing'})`);
      });
    });
  }
  return { omit, ignored };
}
