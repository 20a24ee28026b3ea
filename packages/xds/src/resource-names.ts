/** Resource names as Istio spells them (DESIGN.md §5, a contract). */

/** `outbound|<port>|<subset>|<host>`; a DestinationRule's subset has a cluster of its own. */
export function outboundClusterName(hostname: string, port: number, subset = ''): string {
  return `outbound|${port}|${subset}|${hostname}`;
}

/**
 * A cluster (and EDS) name in Istio's `<direction>|<port>|<subset>|<host>` form. Inbound
 * names have neither subset nor host.
 */
export type ClusterName =
  | { readonly direction: 'outbound'; readonly port: number; readonly subset: string; readonly hostname: string }
  | { readonly direction: 'inbound'; readonly port: number };

export function parseClusterName(name: string): ClusterName | undefined {
  const [direction, portText = '', subset = '', hostname = '', ...rest] = name.split('|');
  const port = Number(portText);
  if (rest.length > 0 || !/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return undefined;
  if (direction === 'inbound') return subset === '' && hostname === '' ? { direction, port } : undefined;
  if (direction === 'outbound' && hostname !== '') return { direction, port, subset, hostname };
  return undefined;
}

/** An outbound cluster: of a whole service (`subset` ''), or of one DestinationRule subset of it. */
export function parseOutboundClusterName(name: string): { hostname: string; port: number; subset: string } | undefined {
  const parsed = parseClusterName(name);
  return parsed?.direction === 'outbound' ? { hostname: parsed.hostname, port: parsed.port, subset: parsed.subset } : undefined;
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

/**
 * Istio's SNI for a service port (and DestinationRule subset), which an east-west gateway
 * routes on: `outbound_.<port>_.<subset>_.<host>`, `_` for no subset.
 */
export function sniName(hostname: string, port: number, subset = ''): string {
  return `outbound_.${port}_.${subset}_.${hostname}`;
}

export function parseSniName(name: string): { hostname: string; port: number; subset: string } | undefined {
  // The subset is a DNS label: it holds no `_`, so the first `_.` after it ends it.
  const match = /^outbound_\.(\d+)_\.([^_]*)_\.(.+)$/.exec(name);
  if (!match?.[1] || match[2] === undefined || !match[3]) return undefined;
  const port = Number(match[1]);
  return port > 0 && port <= 65535 ? { hostname: match[3], port, subset: match[2] } : undefined;
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export function parseInboundClusterName(name: string): number | undefined {
  const parsed = parseClusterName(name);
  return parsed?.direction === 'inbound' ? parsed.port : undefined;
}

export function outboundPortListenerName(port: number): string {
  return `0.0.0.0_${port}`;
}

export function parseOutboundPortListenerName(name: string): number | undefined {
  const match = /^0\.0\.0\.0_(\d+)$/.exec(name);
  const port = Number(match?.[1]);
  return match && port > 0 && port <= 65535 ? port : undefined;
}
