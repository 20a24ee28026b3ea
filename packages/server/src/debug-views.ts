import { createHash } from 'node:crypto';
import type { AggregateRegistry, ClusterManager, RemoteSecretController } from '@meridian/discovery';
import type { ProxyNode, Service } from '@meridian/model';
import { configDump, streamVariant, TYPE_SHORT_NAME, TypeUrl, type AdsServer, type MeshResources, type PushCoordinator, type XdsConnection } from '@meridian/xds';
import { HttpErrorCode, problem, Problem } from './http-problem.ts';

/** Services a registryz page shows at most (`limit`), and endpoints across them. */
export const REGISTRYZ_DEFAULT_SERVICES = 100;
export const REGISTRYZ_MAX_SERVICES = 1000;
export const REGISTRYZ_ENDPOINT_BUDGET = 2000;

/**
 * `/debug/registryz`: merged services with their endpoints per cluster, a page at a time,
 * and a digest of the whole merged content: replicas watching the same clusters show the
 * same digest once they have converged (cluster states and timestamps are left out of it:
 * they differ per replica).
 *
 * A mesh of 50k endpoints made this one 8 MB answer that held the event loop for 450 ms,
 * and twenty at once for seconds. Now a page holds at most `limit` services and, across
 * them, about REGISTRYZ_ENDPOINT_BUDGET endpoints: a service past that budget is listed
 * with its endpoint count only (`?service=HOST&offset=N` pages through its endpoints). Each
 * service's canonical form and digest are kept until discovery replaces that service's
 * merged view, so the digest costs a pass over the services that changed, not the mesh.
 */
export function registryView(registry: AggregateRegistry, query: Record<string, string> = {}): object {
  const all = registry.services();
  const entries = all.map((s) => canonicalService(registry, s));
  const networks = [...new Set(registry.clusterStatuses().map((c) => c.network))].sort();
  const head = {
    digest: createHash('sha256').update(entries.map((e) => `${e.hostname} ${e.digest}\n`).join('')).digest('hex'),
    totals: { services: all.length, endpoints: entries.reduce((n, e) => n + e.endpoints.length, 0) },
    clusters: registry.clusterStatuses(),
    conflicts: registry.conflicts(),
    // Each network's gateways (configured or discovered): how other networks reach it.
    gateways: Object.fromEntries(networks.map((n) => [n, registry.networkGateways(n)])),
  };
  const wanted = query['service'];
  if (wanted !== undefined) {
    const entry = entries.find((e) => e.hostname === wanted);
    const offset = Number(query['offset'] ?? 0);
    const limit = Math.min(Number(query['limit'] ?? REGISTRYZ_ENDPOINT_BUDGET), REGISTRYZ_ENDPOINT_BUDGET);
    const endpoints = entry?.endpoints.slice(offset, offset + limit) ?? [];
    const next = entry && offset + limit < entry.endpoints.length ? offset + limit : null;
    return { ...head, services: entry ? [{ ...entry.service, endpoints }] : [], page: { endpoints: entry?.endpoints.length ?? 0, offset, shown: endpoints.length, nextOffset: next } };
  }
  const after = query['continue'];
  const limit = Math.min(Number(query['limit'] ?? REGISTRYZ_DEFAULT_SERVICES), REGISTRYZ_MAX_SERVICES);
  const from = after === undefined ? 0 : entries.findIndex((e) => e.hostname > after);
  const page = from < 0 ? [] : entries.slice(from, from + limit);
  let budget = REGISTRYZ_ENDPOINT_BUDGET;
  const services = page.map((e) => {
    if (e.endpoints.length > budget) return { ...e.service, endpointCount: e.endpoints.length, endpoints: null, more: `/debug/registryz?service=${e.hostname}` };
    budget -= e.endpoints.length;
    return { ...e.service, endpoints: e.endpoints };
  });
  const last = page[page.length - 1];
  const next = last && from + page.length < entries.length ? last.hostname : null;
  return { ...head, services, page: { services: entries.length, shown: page.length, continue: next } };
}

interface CanonicalService {
  readonly hostname: string;
  readonly service: object;
  readonly endpoints: readonly object[];
  readonly digest: string;
}

/** Keyed by the merged Service object: discovery makes a new one whenever the service or its endpoints change. */
const canonicalServices = new WeakMap<Service, CanonicalService>();

/** Event order differs between replicas, so endpoints are put in a fixed order. */
function canonicalService(registry: AggregateRegistry, s: Service): CanonicalService {
  const cached = canonicalServices.get(s);
  if (cached) return cached;
  const service = {
    hostname: s.hostname,
    ports: s.ports,
    clusters: [...s.clusters].sort(),
    addresses: s.addresses,
    serviceAccounts: s.serviceAccounts,
  };
  const endpoints = registry
    .endpoints(s.hostname)
    .map((e) => ({
      cluster: e.cluster,
      address: e.address,
      port: e.port,
      portName: e.portName,
      network: e.network,
      locality: e.locality,
      health: e.health,
      ...(e.serviceAccount ? { serviceAccount: e.serviceAccount } : {}),
      ...(e.pod ? { pod: e.pod } : {}),
      ...(e.stale ? { stale: true } : {}),
    }))
    .sort(byKey((e) => `${e.cluster}|${e.address}|${e.port}|${e.portName ?? ''}`));
  const entry = { hostname: s.hostname, service, endpoints, digest: createHash('sha256').update(canonicalJson({ ...service, endpoints })).digest('hex') };
  canonicalServices.set(s, entry);
  return entry;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => {
  const x = key(a);
  const y = key(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** `/debug/clusterz`: each cluster's state, its source (files or informers), and remote secrets. */
export function clustersView(clusters: ClusterManager, remoteSecrets: RemoteSecretController | undefined): object {
  return {
    clusters: clusters.statuses(),
    remoteSecrets: remoteSecrets?.status() ?? null,
  };
}

const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());

/** `/debug/syncz`: per connected proxy and type, what was sent, ACKed and rejected. */
export function syncView(ads: AdsServer, push: PushCoordinator, query: Record<string, string>): object | Problem {
  const wanted = query['proxy'];
  const connections = ads.list().filter((c) => !wanted || c.proxy.id === wanted || c.id === wanted);
  if (wanted && connections.length === 0) return noSuchProxy(wanted);
  return {
    pushes: push.pushes,
    lastPush: push.lastPush ?? null,
    recentPushes: push.recentPushes,
    proxies: connections.map((c) => ({
        connection: c.id,
        variant: streamVariant(c),
        node: c.proxy.id,
        type: c.proxy.type,
        cluster: c.proxy.cluster,
        network: c.proxy.network,
        namespace: c.proxy.namespace,
        locality: c.proxy.locality,
        peer: c.peer ?? null,
        // What the transport proved; null on plaintext, where the node id is only a claim.
        identity: c.proxy.verifiedIdentity ?? null,
        connectedAt: iso(c.connectedAt),
        blocked: c.isBlocked,
        bufferedBytes: c.bufferedBytes,
        types: Object.fromEntries(
          [...c.watches.entries()].map(([typeUrl, w]) => [
            TYPE_SHORT_NAME[typeUrl as TypeUrl],
            {
              subscribed: w.names === undefined ? '*' : [...w.names].sort(),
              sent: { version: w.lastVersion ?? null, nonce: w.lastNonce ?? null, at: iso(w.lastSentAt), resources: w.lastSentCount },
              acked: { version: w.ackedVersion ?? null, nonce: w.ackedNonce ?? null, at: iso(w.ackedAt) },
              synced: w.lastNonce !== undefined && w.ackedNonce === w.lastNonce,
              lastNack: w.lastNack ? { ...w.lastNack, at: iso(w.lastNack.at) } : null,
              requests: w.requests,
            },
          ]),
        ),
      })),
  };
}

/**
 * `/debug/endpointz?service=HOST&proxy=ID`: each endpoint of a service and, for one proxy
 * (a connected one by node ID, or described by `cluster`, `network`, `locality=r/z/s`), the
 * priority and weight it gets and why. Computed by the same code that builds EDS.
 */
export function endpointsView(
  resources: MeshResources,
  ads: AdsServer,
  defaults: { cluster: string; networkOf: (cluster: string) => string },
  query: Record<string, string>,
): object | Problem {
  const hostname = query['service'];
  if (!hostname) return problem(400, HttpErrorCode.BadParameter, 'query parameter "service" is required: service=HOST', { parameter: 'service' });
  const found = query['proxy'] ? findConnection(ads, query['proxy']) : undefined;
  if (found instanceof Problem) return found;
  const connected = found?.conn;
  const cluster = query['cluster'] ?? defaults.cluster;
  const [region = '', zone = '', subzone = ''] = (query['locality'] ?? '').split('/');
  const proxy: ProxyNode = connected?.proxy ?? {
    id: '(described by query)',
    type: 'grpc',
    cluster,
    network: query['network'] ?? defaults.networkOf(cluster),
    namespace: 'default',
    locality: { region, zone, subzone },
    ipAddresses: [],
    labels: {},
  };
  return {
    service: hostname,
    proxy: { id: proxy.id, cluster: proxy.cluster, network: proxy.network, locality: proxy.locality },
    ports: resources.explainEndpoints(proxy, hostname).map(({ clusterName, port, selection }) => ({
      cluster: clusterName,
      port: port.port,
      multiNetwork: selection.multiNetwork,
      endpoints: selection.rows,
    })),
  };
}

/**
 * `/debug/config_dump?proxy=ID` (connection id, or a node id held by one connection): Envoy's
 * ConfigDump shape for what a connected proxy subscribed to, with the versions it was last
 * sent. Secrets show as name, version, identity and expiry (never key or PEM), and only for a
 * connection that asked for them, so a debug request never issues a certificate. A node id
 * is only a claim: when several connections hold it, the answer lists them instead of
 * picking one (which could be an impostor's view of the mesh).
 */
export function configDumpView(resources: MeshResources, ads: AdsServer, query: Record<string, string>): object | Problem {
  const wanted = query['proxy'];
  if (!wanted) return problem(400, HttpErrorCode.BadParameter, 'query parameter "proxy" is required: proxy=ID (a node id or connection id, see /debug/syncz)', { parameter: 'proxy' });
  const found = findConnection(ads, wanted);
  if (found instanceof Problem) return found;
  const conn = found.conn;
  const sds = conn.watches.get(TypeUrl.Secret);
  const secrets = sds ? ads.generate(conn, TypeUrl.Secret, sds.names) : undefined;
  return configDump(conn.proxy, resources, { watches: conn.watches, ...(secrets ? { secrets } : {}) });
}

const noSuchProxy = (wanted: string) => problem(404, HttpErrorCode.NotFound, `no connected proxy ${wanted} (see /debug/syncz)`, { parameter: 'proxy' });

function findConnection(ads: AdsServer, wanted: string): { conn: XdsConnection } | Problem {
  const all = ads.list();
  const byId = all.find((c) => c.id === wanted);
  if (byId) return { conn: byId };
  const byNode = all.filter((c) => c.proxy.id === wanted);
  const [only] = byNode;
  if (only && byNode.length === 1) return { conn: only };
  if (!only) return noSuchProxy(wanted);
  return problem(409, HttpErrorCode.Ambiguous, `${byNode.length} connections hold node id ${wanted}; name one by connection id`, {
    parameter: 'proxy',
    connections: byNode.map((c) => c.id),
  });
}
