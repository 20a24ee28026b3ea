/**
 * Envoy's `/config_dump` shape (envoy.admin.v3.ConfigDump, JSON form) for one proxy, so the
 * tools people already point at Envoy's admin port (istioctl-like scripts, jq one-liners)
 * read Meridian's view of a proxy the same way.
 *
 * The resources are regenerated from the source for the names the proxy subscribed to: with
 * content-hash versions, equal versions mean equal bytes, so once a proxy has ACKed this is
 * what it holds; the per-type `version_info` says which response that was.
 */
import { X509Certificate } from 'node:crypto';
import type { ProxyNode } from '@meridian/model';
import { loadSidecarProtos } from './envoy-protos.ts';
import { decodeMessage, envoyProtoRoot } from './protos.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import { SECRET_TYPE_URL } from './sds.ts';
import { TypeUrl } from './type-url.ts';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

/** What the server knows of a proxy's stream for one type (a subset of its watch state). */
export interface DumpWatch {
  /** Subscribed names; undefined is wildcard. */
  readonly names: ReadonlySet<string> | undefined;
  readonly lastVersion?: string | undefined;
  readonly lastSentAt?: number | undefined;
}

export interface ConfigDumpOptions {
  /** The proxy's watches by type; absent (a proxy not connected): what it would be sent. */
  readonly watches?: ReadonlyMap<string, DumpWatch>;
  /**
   * The proxy's SDS secrets: shown by name and version, a certificate by its identity and
   * expiry only. Neither key nor PEM is ever part of the dump.
   */
  readonly secrets?: readonly GeneratedResource[];
}

type Decoded = Record<string, unknown>;

interface Entry {
  readonly name: string;
  readonly version: string;
  readonly resource: Decoded;
}

export function configDump(proxy: ProxyNode, source: ResourceSource, options: ConfigDumpOptions = {}): { configs: object[] } {
  loadSidecarProtos();
  const watches = options.watches;
  const names = (typeUrl: TypeUrl, derived: () => ReadonlySet<string> | undefined) =>
    watches ? watches.get(typeUrl)?.names : derived();
  const subscribed = (typeUrl: TypeUrl) => watches === undefined || watches.has(typeUrl);
  const load = (typeUrl: TypeUrl, wanted: ReadonlySet<string> | undefined): Entry[] =>
    subscribed(typeUrl) ? source.generate(typeUrl, proxy, wanted).map(decodeEntry) : [];

  const listeners = load(TypeUrl.Listener, names(TypeUrl.Listener, () => undefined));
  const clusters = load(TypeUrl.Cluster, names(TypeUrl.Cluster, () => undefined));
  const routes = load(TypeUrl.Route, names(TypeUrl.Route, () => new Set(routeNamesOf(listeners.map((l) => l.resource)))));
  const endpoints = load(TypeUrl.Endpoint, names(TypeUrl.Endpoint, () => new Set(edsNamesOf(clusters.map((c) => c.resource)))));

  const meta = (typeUrl: TypeUrl) => {
    const w = watches?.get(typeUrl);
    return {
      ...(w?.lastVersion ? { version_info: w.lastVersion } : {}),
      ...(w?.lastSentAt ? { last_updated: new Date(w.lastSentAt).toISOString() } : {}),
    };
  };
  const configs: object[] = [
    {
      '@type': `${ADMIN}ListenersConfigDump`,
      ...versionOnly(meta(TypeUrl.Listener)),
      dynamic_listeners: listeners.map((l) => ({
        name: l.name,
        active_state: { version_info: l.version, listener: l.resource, ...lastUpdated(meta(TypeUrl.Listener)) },
      })),
    },
    {
      '@type': `${ADMIN}ClustersConfigDump`,
      ...versionOnly(meta(TypeUrl.Cluster)),
      dynamic_active_clusters: clusters.map((c) => ({ version_info: c.version, cluster: c.resource, ...lastUpdated(meta(TypeUrl.Cluster)) })),
    },
    {
      '@type': `${ADMIN}RoutesConfigDump`,
      dynamic_route_configs: routes.map((r) => ({ version_info: r.version, route_config: r.resource, ...lastUpdated(meta(TypeUrl.Route)) })),
    },
    {
      '@type': `${ADMIN}EndpointsConfigDump`,
      dynamic_endpoint_configs: endpoints.map((e) => ({ version_info: e.version, endpoint_config: e.resource, ...lastUpdated(meta(TypeUrl.Endpoint)) })),
    },
  ];
  if (options.secrets) {
    configs.push({
      '@type': `${ADMIN}SecretsConfigDump`,
      ...versionOnly(meta(TypeUrl.Secret)),
      dynamic_active_secrets: options.secrets.map((s) => {
        const { name, version, resource } = decodeEntry(s);
        return { name, version_info: version, ...lastUpdated(meta(TypeUrl.Secret)), ...secretSummary(resource) };
      }),
    });
  }
  return { configs };
}

function versionOnly(meta: { version_info?: string }): object {
  return meta.version_info ? { version_info: meta.version_info } : {};
}

function lastUpdated(meta: { last_updated?: string }): object {
  return meta.last_updated ? { last_updated: meta.last_updated } : {};
}

/** A generated resource as JSON: its `Any` unpacked into `{ '@type', ...fields }`. */
export function decodeResource(resource: GeneratedResource): Decoded {
  const any = envoyProtoRoot().lookupType('google.protobuf.Any').decode(resource.any) as unknown as { type_url: string; value: Uint8Array };
  return { '@type': any.type_url, ...decodeMessage(any.type_url, any.value) };
}

function decodeEntry(resource: GeneratedResource): Entry {
  return { name: resource.name, version: resource.version, resource: decodeResource(resource) };
}

/**
 * What a secret may show: the leaf's SPIFFE ID and expiry for a certificate, the number of
 * roots for a validation context. Envoy's own dump replaces only the key with `[redacted]`;
 * so does this, and it leaves the chain out too: nothing in it is needed to debug a proxy.
 */
function secretSummary(secret: Decoded): object {
  if (secret['@type'] !== SECRET_TYPE_URL) return {};
  const tls = secret['tls_certificate'] as { certificate_chain?: { inline_string?: unknown } } | undefined;
  if (tls) {
    const pem = tls.certificate_chain?.inline_string;
    const leaf = typeof pem === 'string' ? parseCertificate(pem) : undefined;
    const identity = leaf?.subjectAltName?.split(', ').find((s) => s.startsWith('URI:'))?.slice(4);
    return {
      secret: { tls_certificate: { certificate_chain: '[redacted]', private_key: '[redacted]' } },
      ...(identity ? { identity } : {}),
      ...(leaf ? { not_after: new Date(leaf.validTo).toISOString() } : {}),
    };
  }
  const roots = (secret['validation_context'] as { trusted_ca?: { inline_string?: unknown } } | undefined)?.trusted_ca?.inline_string;
  return typeof roots === 'string' ? { roots: roots.split('-----BEGIN CERTIFICATE-----').length - 1 } : {};
}

function parseCertificate(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** RDS names the listeners' HTTP connection managers refer to. */
export function routeNamesOf(listeners: readonly Decoded[]): string[] {
  const out = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const o = v as Decoded;
    const rds = o['rds'] as { route_config_name?: unknown } | undefined;
    if (rds && typeof rds.route_config_name === 'string') out.add(rds.route_config_name);
    Object.values(o).forEach(visit);
  };
  listeners.forEach(visit);
  return [...out];
}

/** EDS names of the EDS clusters (their `service_name`, else the cluster name). */
export function edsNamesOf(clusters: readonly Decoded[]): string[] {
  return clusters.flatMap((c) => {
    if (c['type'] !== 'EDS') return [];
    const eds = c['eds_cluster_config'] as { service_name?: unknown } | undefined;
    const name = typeof eds?.service_name === 'string' && eds.service_name ? eds.service_name : c['name'];
    return typeof name === 'string' ? [name] : [];
  });
}
