/** Resource names as Istio spells them (DESIGN.md §5, a contract). */

export function outboundClusterName(hostname: string, port: number): string {
  return `outbound|${port}||${hostname}`;
}

export function parseOutboundClusterName(name: string): { hostname: string; port: number } | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || parts[0] !== 'outbound' || !parts[3]) return undefined;
  const port = Number(parts[1]);
  return Number.isInteger(port) && port > 0 ? { hostname: parts[3], port } : undefined;
}

/** `host:port` (or a bare `host`) as a proxyless gRPC client names its listener. */
export function parseHostPort(name: string): { host: string; port: number | undefined } {
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return { host: name, port: undefined };
  const port = Number(name.slice(colon + 1));
  return Number.isInteger(port) && port > 0
    ? { host: name.slice(0, colon), port }
    : { host: name, port: undefined };
}

/**
 * The hostnames a short name may stand for, most specific first: `echo` in the proxy's
 * namespace, `echo.ns`, `echo.ns.svc`, or the full `echo.ns.svc.<domain>`.
 */
export function candidateHostnames(host: string, proxyNamespace: string, domainSuffix: string): string[] {
  const labels = host.split('.');
  if (host.endsWith(`.svc.${domainSuffix}`)) return [host];
  if (labels.length === 1) return [`${host}.${proxyNamespace}.svc.${domainSuffix}`];
  if (labels.length === 2) return [`${host}.svc.${domainSuffix}`];
  if (labels.length === 3 && labels[2] === 'svc') return [`${host}.${domainSuffix}`];
  return [host];
}

/** Every name a client may use for a service, for route domains. */
export function serviceDomains(hostname: string, port: number, domainSuffix: string): string[] {
  const short = hostname.endsWith(`.svc.${domainSuffix}`)
    ? hostname.slice(0, -`.svc.${domainSuffix}`.length).split('.')
    : [];
  const names = short.length === 2 ? [hostname, `${short[0]}.${short[1]}.svc`, `${short[0]}.${short[1]}`, `${short[0]}`] : [hostname];
  return names.flatMap((n) => [n, `${n}:${port}`]);
}
