/** `name.namespace.svc.<domain>`: the one hostname a Kubernetes Service has in the mesh. */
export function serviceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/**
 * Host patterns as Istio writes them: an exact hostname, or `*.suffix` matching any
 * hostname that ends with `.suffix`.
 */
export function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1));
  return pattern === hostname;
}

export function matchesAnyHost(patterns: readonly string[], hostname: string): boolean {
  return patterns.some((p) => hostMatches(p, hostname));
}
