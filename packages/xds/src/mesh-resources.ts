import { ConfigKind, hostnameKeys, localityString, PeerMtlsMode, ProxyType, type PolicyWorkload, type ProxyNode, type PushRequest, type ServicePort } from '@meridian/model';
import { changeSetOf } from './change-set.ts';
import type { EndpointSelection } from './endpoint-selection.ts';
import { loadSidecarProtos } from './envoy-protos.ts';
import { EAST_WEST_GATEWAY_LABEL } from './envoy-resources.ts';
import { envoyEndpoints, explainEndpoints, grpcEndpoints } from './generators/endpoints.ts';
import { gatewayClusters, gatewayListeners } from './generators/gateway.ts';
import type { Generator } from './generators/generator.ts';
import { grpcClusters } from './generators/grpc-clusters.ts';
import { grpcListeners, inboundMode } from './generators/grpc-listeners.ts';
import { grpcRoutes } from './generators/grpc-routes.ts';
import { ProxyViews } from './generators/proxy-view.ts';
import { DEFAULT_MAX_CACHE_ENTRIES, ResourceCache, type CacheStats } from './generators/resource-cache.ts';
import { envoyClustersNeedPush, sidecarClusters } from './generators/sidecar-clusters.ts';
import { envoyListenersNeedPush, sidecarListeners } from './generators/sidecar-listeners.ts';
import { envoyRoutesNeedPush, sidecarRoutes } from './generators/sidecar-routes.ts';
import { MtlsMode } from './mtls.ts';
import { PushSnapshot, type SnapshotOptions } from './push-snapshot.ts';
import type { GeneratedResource, ResourceSource } from './resource-source.ts';
import { TypeUrl } from './type-url.ts';

export { DEFAULT_MAX_CACHE_ENTRIES } from './generators/resource-cache.ts';
export { contentVersion } from './generators/generator.ts';

export interface MeshResourcesOptions extends SnapshotOptions {
  /** Most resources whose bytes are kept; beyond it the oldest go. Default `DEFAULT_MAX_CACHE_ENTRIES`. */
  readonly maxCacheEntries?: number;
}

/**
 * Shared answers kept between two pushes. Every distinct set of up to 16 names is one, so
 * without a bound a client asking for ever new sets would grow them until the next push.
 */
export const MAX_SHARED_ANSWERS = 10_000;

/** Which generators serve a proxy. */
const ProxyKind = {
  ProxylessGrpc: 'grpc',
  Sidecar: 'sidecar',
  EastWestGateway: 'east-west-gateway',
  /** Any other router: ingress gateways need Gateway config Meridian does not have. */
  Router: 'router',
} as const;
type ProxyKind = (typeof ProxyKind)[keyof typeof ProxyKind];

/** The types generated from the mesh; secrets are per connection (`connectionSource`). */
type MeshTypeUrl = Exclude<TypeUrl, typeof TypeUrl.Secret>;

function proxyKind(proxy: ProxyNode): ProxyKind {
  switch (proxy.type) {
    case ProxyType.ProxylessGrpc:
      return ProxyKind.ProxylessGrpc;
    case ProxyType.Sidecar:
      return ProxyKind.Sidecar;
    case ProxyType.Router:
      return proxy.labels[EAST_WEST_GATEWAY_LABEL.key] === EAST_WEST_GATEWAY_LABEL.value ? ProxyKind.EastWestGateway : ProxyKind.Router;
  }
}

export type MeshCacheStats = CacheStats & {
  /** Answers shared by proxies asking the same thing, kept until the next push. */
  sharedAnswers: number;
};

/**
 * The mesh's side of the xDS server: a table from (proxy kind, type URL) to the generator
 * that serves it (go-control-plane's mux), the push snapshot generators read, and what is
 * shared between proxies — encoded resources by the changes they depend on
 * (`ResourceCache`), and whole answers until the next push.
 *
 * A push (`invalidate`) takes the next snapshot and drops the cached resources its change
 * keys name; `affects` asks the generator of the resource whether a change can alter it.
 */
export class MeshResources implements ResourceSource {
  private readonly options: MeshResourcesOptions;
  /** The mesh as the last push saw it; read from the registry on first use before any push. */
  private snapshot: PushSnapshot | undefined;
  private readonly cache: ResourceCache;
  private readonly views = new ProxyViews();
  private readonly generators: Readonly<Record<ProxyKind, Readonly<Record<MeshTypeUrl, Generator>>>>;
  /** Answers built since the last push, shared by every proxy asking the same thing. */
  private readonly memo = new Map<string, GeneratedResource[]>();

  constructor(options: MeshResourcesOptions) {
    this.options = options;
    this.cache = new ResourceCache(options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES);
    const cache = this.cache;
    const grpc = {
      [TypeUrl.Listener]: grpcListeners(cache),
      [TypeUrl.Route]: grpcRoutes(cache),
      [TypeUrl.Cluster]: grpcClusters(cache),
      [TypeUrl.Endpoint]: grpcEndpoints(cache),
    };
    const envoyEds = envoyEndpoints(cache);
    const envoyRds = sidecarRoutes(cache, this.views);
    this.generators = {
      [ProxyKind.ProxylessGrpc]: grpc,
      [ProxyKind.Sidecar]: {
        [TypeUrl.Listener]: sidecarListeners(cache, this.views),
        [TypeUrl.Route]: envoyRds,
        [TypeUrl.Cluster]: sidecarClusters(cache, this.views),
        [TypeUrl.Endpoint]: envoyEds,
      },
      [ProxyKind.EastWestGateway]: {
        [TypeUrl.Listener]: gatewayListeners(cache),
        [TypeUrl.Route]: envoyRds,
        [TypeUrl.Cluster]: gatewayClusters(cache),
        [TypeUrl.Endpoint]: envoyEds,
      },
      [ProxyKind.Router]: {
        [TypeUrl.Listener]: namedOnly(grpc[TypeUrl.Listener], envoyListenersNeedPush),
        [TypeUrl.Route]: namedOnly(grpc[TypeUrl.Route], envoyRoutesNeedPush),
        [TypeUrl.Cluster]: namedOnly(grpc[TypeUrl.Cluster], envoyClustersNeedPush),
        [TypeUrl.Endpoint]: envoyEds,
      },
    };
  }

  /** The snapshot generators read (Istio's PushContext): built by each push, never changed after. */
  snap(): PushSnapshot {
    this.snapshot ??= PushSnapshot.next(this.options, undefined, undefined);
    return this.snapshot;
  }

  get stats(): MeshCacheStats {
    return { ...this.cache.stats, sharedAnswers: this.memo.size };
  }

  generate(typeUrl: TypeUrl, proxy: ProxyNode, names: ReadonlySet<string> | undefined): GeneratedResource[] {
    if (typeUrl === TypeUrl.Secret) return [];
    const snapshot = this.snap();
    // A wildcard answer is the same list for every proxy of a view until the next push:
    // build it once, so a push to a thousand proxies does not walk the mesh a thousand
    // times. The same array comes back each time, which also lets typeVersion() remember its
    // hash. Small named subscriptions (a gRPC client's few names, a sidecar's EDS) are shared
    // the same way; the endpoint view (locality) is part of the key for them.
    const memoKey =
      names === undefined
        ? `${typeUrl}|${this.views.key(snapshot, proxy)}`
        : names.size <= 16
          ? `${typeUrl}|${this.views.key(snapshot, proxy)}|${localityString(proxy.locality)}|${[...names].sort().join(' ')}`
          : undefined;
    const memo = memoKey === undefined ? undefined : this.memo.get(memoKey);
    if (memo) return memo;
    const kind = proxyKind(proxy);
    if (kind !== ProxyKind.ProxylessGrpc) loadSidecarProtos();
    const out = this.generators[kind][typeUrl].generate(snapshot, proxy, names);
    if (memoKey !== undefined && this.memo.size < MAX_SHARED_ANSWERS) this.memo.set(memoKey, out);
    return out;
  }

  affects(request: PushRequest, typeUrl: TypeUrl, proxy: ProxyNode, name: string | undefined): boolean {
    if (typeUrl === TypeUrl.Secret) return false;
    return this.generators[proxyKind(proxy)][typeUrl].needsPush(changeSetOf(request), this.snap(), proxy, name);
  }

  invalidate(given: PushRequest): PushRequest {
    this.snapshot = PushSnapshot.next(this.options, this.snapshot, given);
    const moved = this.snapshot.movedEntries;
    // A push naming everything needs no more keys (naming some would narrow it).
    const request = moved.length && !changeSetOf(given).everything ? { ...given, configs: [...given.configs, ...hostnameKeys(ConfigKind.Endpoints, moved)] } : given;
    this.memo.clear();
    this.cache.invalidate(changeSetOf(request));
    return request;
  }

  /** `/debug/endpointz`: what EDS serves the proxy for each port of the service, and why. */
  explainEndpoints(proxy: ProxyNode, hostname: string): Array<{ clusterName: string; port: ServicePort; selection: EndpointSelection }> {
    return explainEndpoints(this.snap(), proxy, hostname);
  }

  /** Whether the inbound listener at `address:port` of a server in `workload` speaks mTLS. */
  inboundMode(address: string, port: number, workload: PolicyWorkload = { namespace: '', labels: {} }): MtlsMode {
    return inboundMode(this.snap(), workload, address, port) === PeerMtlsMode.Disable ? MtlsMode.Disable : MtlsMode.Strict;
  }
}

/** A generator that answers named requests only (nothing by wildcard), with the given push rule. */
function namedOnly(generator: Generator, needsPush: Generator['needsPush']): Generator {
  return { needsPush, generate: (snapshot, proxy, names) => (names ? generator.generate(snapshot, proxy, names) : []) };
}
