import * as grpc from '@grpc/grpc-js';
import {
  AggregateRegistry,
  ClusterRegistry,
  ManifestDirectorySource,
} from '@meridian/discovery';
import type { Logger } from '@meridian/model';
import { AdsServer, MeshResources, PushCoordinator, TYPE_SHORT_NAME } from '@meridian/xds';
import type { FastifyInstance } from 'fastify';
import { splitHostPort, type MeridianConfig } from './config.ts';
import { clustersView, registryView, syncView } from './debug-views.ts';
import { startHttp } from './http.ts';
import { createMetrics, type Metrics } from './metrics.ts';

export interface RunningMeridian {
  readonly xdsPort: number;
  readonly httpPort: number;
  readonly registry: AggregateRegistry;
  readonly ads: AdsServer;
  readonly metrics: Metrics;
  /** Graceful stop: refuse new streams, ask proxies to reconnect elsewhere, close. */
  stop(): Promise<void>;
}

/** Wires discovery → push → ADS and the HTTP views, from a validated config. */
export async function startMeridian(config: MeridianConfig, logger: Logger): Promise<RunningMeridian> {
  const startedAt = performance.now();
  const metrics = createMetrics();
  const registry = new AggregateRegistry({ logger });
  const sources = new Map<string, ManifestDirectorySource>();
  const networks = new Map<string, string>();

  for (const cluster of config.clusters) {
    const network = cluster.network ?? cluster.id;
    networks.set(cluster.id, network);
    const clusterRegistry = new ClusterRegistry({ cluster: cluster.id, network, domainSuffix: config.domainSuffix, logger });
    registry.addCluster(clusterRegistry);
    sources.set(cluster.id, new ManifestDirectorySource({ directory: cluster.manifests, registry: clusterRegistry, logger }));
  }

  const resources = new MeshResources({
    discovery: registry,
    domainSuffix: config.domainSuffix,
    clusterLocalHosts: config.clusterLocalHosts,
  });
  const defaultCluster = config.clusters[0]?.id ?? '';
  const ads = new AdsServer({
    source: resources,
    logger,
    proxyDefaults: { cluster: defaultCluster, networkOf: (c) => networks.get(c) ?? c },
    hooks: {
      onConnect: (c) => metrics.connectedProxies.inc({ type: c.proxy.type, cluster: c.proxy.cluster }),
      onDisconnect: (c) => metrics.connectedProxies.dec({ type: c.proxy.type, cluster: c.proxy.cluster }),
      onResponse: (_c, typeUrl, _n, bytes) => {
        metrics.pushes.inc({ type: TYPE_SHORT_NAME[typeUrl] });
        metrics.pushBytes.inc({ type: TYPE_SHORT_NAME[typeUrl] }, bytes);
      },
      onAck: (_c, typeUrl, ms) => {
        if (ms !== undefined) metrics.convergence.observe({ type: TYPE_SHORT_NAME[typeUrl] }, ms / 1000);
      },
      onNack: (_c, typeUrl) => metrics.rejects.inc({ type: TYPE_SHORT_NAME[typeUrl] }),
    },
  });
  const push = new PushCoordinator({
    source: resources,
    ads,
    debounce: config.debounce,
    logger,
    onPush: (request) => metrics.debouncedPushes.inc({ kind: request.kind }),
  });
  registry.setUpdater(push);

  // Sources load before the gRPC port opens, so the first proxy gets the whole mesh.
  await Promise.all([...sources.values()].map((s) => s.start()));

  const grpcServer = new grpc.Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  ads.addTo(grpcServer);
  const xds = splitHostPort(config.listen.xds);
  const xdsPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`${xds.host}:${xds.port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );

  let http: { app: FastifyInstance; port: number } | undefined;
  try {
    const httpAddress = splitHostPort(config.listen.http);
    http = await startHttp({
      host: httpAddress.host,
      port: httpAddress.port,
      logger,
      metrics,
      views: {
        ready: () => {
          const waiting = registry.clusterStatuses().filter((c) => c.state === 'Syncing').map((c) => c.id);
          return { ready: waiting.length === 0, detail: { waitingFor: waiting } };
        },
        debug: {
          registryz: () => registryView(registry),
          clusterz: () => clustersView(registry, sources),
          syncz: (q) => syncView(ads, push, q),
          cachez: () => resources.stats,
        },
      },
    });
  } catch (err) {
    grpcServer.forceShutdown();
    throw err;
  }

  const refreshGauges = () => {
    for (const status of registry.clusterStatuses()) {
      metrics.clusterServices.set({ cluster: status.id }, status.objects['services'] ?? 0);
      const errors = sources.get(status.id)?.status().files.filter((f) => f.error).length ?? 0;
      metrics.manifestErrors.set({ cluster: status.id }, errors);
    }
  };
  const gaugeTimer = setInterval(refreshGauges, 5000);
  gaugeTimer.unref();
  refreshGauges();

  logger.info(
    {
      xds: `${xds.host}:${xdsPort}`,
      http: `${splitHostPort(config.listen.http).host}:${http.port}`,
      clusters: config.clusters.map((c) => c.id),
      services: registry.services().length,
      startupMs: Math.round(performance.now() - startedAt),
    },
    'meridian ready',
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info({ proxies: ads.list().length }, 'shutting down');
      clearInterval(gaugeTimer);
      push.stop();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, config.shutdown.graceMs);
        grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
        // Streams never end by themselves: tell proxies to go elsewhere so tryShutdown can finish.
        ads.closeAll(grpc.status.UNAVAILABLE, 'server shutting down');
      });
      await Promise.all([...sources.values()].map((s) => s.stop()));
      await http?.app.close();
      logger.info('stopped');
    })());

  return { xdsPort, httpPort: http.port, registry, ads, metrics, stop };
}
