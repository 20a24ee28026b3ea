/** Host names and visibility as Istio's networking API defines them. */

/**
 * A host as a policy in `namespace` names it, made a full name: a short name (`reviews`) is
 * the Service of that name in the policy's own namespace; a name with a dot, or a wildcard,
 * is taken as written (upstream does the same, so `reviews.other` is not expanded).
 */
export function resolveHost(host: string, namespace: string, domainSuffix: string): string {
  const lower = host.toLowerCase();
  if (lower.includes('.') || lower.includes('*')) return lower;
  return `${lower}.${namespace}.svc.${domainSuffix}`;
}

/** The namespace of a Kubernetes Service host (`name.ns.svc.<suffix>`), if it is one. */
export function serviceNamespaceOf(host: string, domainSuffix: string): string | undefined {
  const suffix = `.svc.${domainSuffix}`;
  if (!host.endsWith(suffix)) return undefined;
  const parts = host.slice(0, -suffix.length).split('.');
  return parts.length === 2 ? parts[1] : undefined;
}

/** Whether an object in `namespace` with `exportTo` is visible to callers in `caller` (default: everyone). */
export function visibleTo(exportTo: readonly string[] | undefined, namespace: string, caller: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || (e === '.' && caller === namespace) || e === caller);
}
