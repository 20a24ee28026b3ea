/**
 * Mutual TLS between proxyless gRPC peers. grpc-js-xds takes its certificates only from the
 * bootstrap's `certificate_providers` (plugin `file_watcher`), so the resources name a
 * provider instance and never carry key material; the bootstrap and these resources must
 * agree on the instance name.
 */
import type { Endpoint, Service } from '@meridian/model';

export const MtlsMode = {
  Disable: 'disable',
  Strict: 'strict',
} as const;
export type MtlsMode = (typeof MtlsMode)[keyof typeof MtlsMode];

export interface MtlsOptions {
  /** The mode of every service without an override. */
  readonly mode: MtlsMode;
  /** Overrides by exact service hostname. */
  readonly services?: Readonly<Record<string, MtlsMode>>;
  /** The trust domain of the SPIFFE IDs a client expects its servers to present. */
  readonly trustDomain: string;
}

/** The bootstrap's certificate provider instance the TLS contexts refer to. */
export const CERTIFICATE_PROVIDER_INSTANCE = 'default';
/** Istio's certificate names within that instance: the workload's own chain, and the roots. */
export const IDENTITY_CERTIFICATE_NAME = 'default';
export const ROOT_CERTIFICATE_NAME = 'ROOTCA';

/**
 * Istio's name template for a proxyless gRPC server's listener: the server bootstrap's
 * `server_listener_resource_name_template`, `%s` being the `ip:port` it binds.
 */
export const INBOUND_LISTENER_NAME_TEMPLATE = 'xds.istio.io/grpc/lds/inbound/%s';
const INBOUND_LISTENER_PREFIX = INBOUND_LISTENER_NAME_TEMPLATE.slice(0, -'%s'.length);

export function inboundListenerName(address: string, port: number): string {
  return `${INBOUND_LISTENER_PREFIX}${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The `ip:port` an inbound listener name stands for, or undefined for any other name. */
export function parseInboundListenerName(name: string): { address: string; port: number } | undefined {
  if (!name.startsWith(INBOUND_LISTENER_PREFIX)) return undefined;
  const hostPort = name.slice(INBOUND_LISTENER_PREFIX.length);
  const colon = hostPort.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = hostPort.slice(0, colon);
  const port = Number(hostPort.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return address ? { address, port } : undefined;
}

export function mtlsModeOf(options: MtlsOptions | undefined, hostname: string): MtlsMode {
  if (!options) return MtlsMode.Disable;
  return options.services?.[hostname] ?? options.mode;
}

/** Whether any service could get a mode other than the global one. */
export function hasMtlsOverrides(options: MtlsOptions | undefined): boolean {
  return options !== undefined && Object.values(options.services ?? {}).some((m) => m !== options.mode);
}

/** `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` for each service account behind a service, sorted. */
export function serviceIdentities(trustDomain: string, service: Pick<Service, 'namespace' | 'serviceAccounts'>): string[] {
  return [...new Set(service.serviceAccounts.map((sa) => `spiffe://${trustDomain}/ns/${service.namespace}/sa/${sa}`))].sort();
}

export type StringMatcher = { readonly exact: string } | { readonly prefix: string };

/**
 * What a client accepts as the server's URI SAN. With no known service account (no endpoint
 * names one yet) an empty list would make grpc-js accept any SAN at all, so fall back to
 * "any identity of this trust domain" rather than to "anything the root signed".
 */
export function serverSanMatchers(trustDomain: string, identities: readonly string[]): StringMatcher[] {
  return identities.length > 0 ? identities.map((exact) => ({ exact })) : [{ prefix: `spiffe://${trustDomain}/` }];
}

/**
 * Which services' endpoints listen on each `address:port` (key `address|port`), hostnames
 * sorted. Normally one; a pod behind two services gives two.
 */
export function indexEndpointOwners(
  services: readonly Service[],
  endpointsOf: (hostname: string) => readonly Endpoint[],
): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const service of services) {
    for (const ep of endpointsOf(service.hostname)) {
      const key = endpointKey(ep.address, ep.port);
      const list = owners.get(key);
      if (!list) owners.set(key, [service.hostname]);
      else if (!list.includes(service.hostname)) list.push(service.hostname);
    }
  }
  for (const list of owners.values()) list.sort();
  return owners;
}

export function endpointKey(address: string, port: number): string {
  return `${address}|${port}`;
}
