import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { AggregateRegistry, ClusterManager, RemoteSecretController } from '@meridian/discovery';
import { ConfigKind, type Logger, type MeshPolicies } from '@meridian/model';
import { addCsdsService, AdsServer, MeshResources, PushCoordinator, TYPE_SHORT_NAME, TypeUrl } from '@meridian/xds';
import { authzView, headerLinesError } from './authz-explain.ts';
import { startCaRuntime, type CaRuntime } from './ca-runtime.ts';
import { clusterSpecFor } from './clusters.ts';
import { debugTokenReader, splitHostPort, type MeridianConfig } from './config.ts';
import { clustersView, configDumpView, endpointsView, registryView, syncView } from './debug-views.ts';
import { startHttp, type ParamSpec } from './http.ts';
import { JwksFetcher } from './jwks-fetcher.ts';
import { listenError } from './listen-error.ts';
import { meshPolicyOptions, meshResourceSettings, policySourceFilter, rootNamespace } from './mesh-settings.ts';
import { changeLogLevel } from './logging.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { svidPeerIdentity } from './peer-identity.ts';
import { DryRunCounter } from './dry-run-counts.ts';
import { enforcementView } from './policy-enforcement.ts';
import { PolicyRuntime } from './policy-runtime.ts';
import { issueWorkloadCertificate, WorkloadSecretStore } from './workload-secrets.ts';
import { MERIDIAN_VERSION } from './version.ts';

export interface RunningMeridian {
  readonly xdsPort: number;
  readonly xdsTlsPort: number;
  readonly httpPort: number;
  readonly ca: CaRuntime;
  readonly registry: AggregateRegistry;
  readonly clusters: ClusterManager;
  readonly ads: AdsServer;
  readonly metrics: Metrics;
  /** Graceful stop: refuse new streams, ask proxies to reconnect elsewhere, close. */
  stop(): Promise<void>;
}

/** The query parameters of each debug view (those not listed take none). */
function debugParams(known: { knownCluster: (id: string) => string | undefined; knownService: (host: string) => string | undefined }): Record<string, Record<string, ParamSpec>> {
  const proxy: ParamSpec = { form: 'ID (a node id or connection id, see /debug/syncz)' };
  return {
    version: {},
    ca: {},
    clusterz: {},
    policyz: {},
    secretz: {},
    cachez: {},
    loglevel: {},
    syncz: { proxy },
    registryz: {
      service: { form: 'HOST (one service, its endpoints paged with offset and limit)', check: known.knownService },
      limit: { form: 'N (services per page, or endpoints with service=)', check: wholeNumber(1) },
      continue: { form: 'HOST (the page after this hostname: page.continue of the last answer)' },
      offset: { form: 'N (with service=: the first endpoint to show)', check: wholeNumber(0) },
    },
    config_dump: { proxy: { ...proxy, required: true } },
    authz: {
      from: { required: true, form: 'SPIFFE_ID | <trust-domain>/ns/<ns>/sa/<sa> | <pod>.<namespace> | POD_IP' },
      to: { required: true, form: '<name>.<namespace>[:PORT] or HOST[:PORT]' },
      method: { form: 'METHOD (default GET)' },
      path: { form: 'PATH (default /)' },
      headers: { form: 'NAME:VALUE, one per line', check: (v) => headerLinesError(v) },
      requestPrincipal: { form: 'ISSUER/SUBJECT (a validated JWT\'s)' },
    },
    endpointz: {
      service: { required: true, form: 'HOST (a hostname from /debug/registryz)', check: known.knownService },
      proxy,
      cluster: { form: 'CLUSTER_ID', check: known.knownCluster },
      network: { form: 'NETWORK' },
      locality: { form: 'region/zone/subzone', check: (v) => (v.split('/').length > 3 ? 'at most three parts' : undefined) },
    },
  };
}

function wholeNumber(min: number): (value: string) => string | undefined {
  return (value) => (/^\d{1,9}$/.test(value) && Number(value) >= min ? undefined : `a whole number of at least ${min}`);
}


/** Wires discovery → push → ADS and the HTTP views, from a validated config. */
export async function startMeridian(config: MeridianConfig, logger: Logger): Promise<RunningMeridian> {
  const startedAt = performance.now();
  const startedAtWall = Date.now();
  // Gauges read the cluster manager and the CA, which exist a few lines below.
  let clusterStatuses: () => ReturnType<ClusterManager['statuses']> = () => [];
  let caNotAfter: () => number | undefined = () => undefined;
  const metrics = createMetrics({
    clusters: () => clusterStatuses(),
    conflicts: () => registry.conflicts().length,
    caNotAfter: () => caNotAfter(),
  });
  metrics.buildInfo.set({ version: MERIDIAN_VERSION }, 1);
  const registry = new AggregateRegistry({ logger });
  registry.setConfiguredGateways(
    Object.entries(config.networks).flatMap(([network, n]) =>
      n.gateways.map((g) => ({ network, address: g.address, port: g.port, source: 'config' })),
    ),
  );
  const namespace = rootNamespace(config);
  const policy = new PolicyRuntime({
    ...meshPolicyOptions(config),
    primary: (config.clusters.find((c) => c.primary) ?? config.clusters[0])?.id,
    logger,
    registry: metrics.registry,
  });
  const clusters = new ClusterManager({
    config: policy,
    aggregate: registry,
    domainSuffix: config.domainSuffix,
    systemNamespace: namespace,
    staleAfterMs: config.discovery.staleAfterMs,
    backoff: config.discovery.backoff,
    policyFrom: policySourceFilter(config),
    logger,
  });
  clusterStatuses = () => clusters.statuses();

  // A changed key set reaches the proxies with a push of the RequestAuthentications that name it.
  let pushJwks: (uri: string) => void = () => undefined;
  const jwks = new JwksFetcher({ logger, onChange: (uri) => pushJwks(uri) });
  let retainedFor: MeshPolicies | undefined;
  const resources = new MeshResources({
    ...meshResourceSettings(config),
    discovery: registry,
    jwks: (uri) => jwks.get(uri),
    // Read into each push's snapshot; a new compilation also tells the JWKS fetcher which URIs still matter.
    policies: () => {
      const current = policy.policies;
      if (current !== retainedFor) {
        retainedFor = current;
        jwks.retain(new Set(current.requestAuthentication.flatMap((ra) => ra.rules.flatMap((r) => ('uri' in r.jwks ? [r.jwks.uri] : [])))));
      }
      return current;
    },
  });
  // The CA starts a few lines below; sidecars ask for secrets only once the ports are open.
  let caStarted: CaRuntime | undefined = undefined;
  const secrets = new WorkloadSecretStore({
    issue: async (identity) => {
      if (!caStarted) throw new Error('the CA has not started');
      return issueWorkloadCertificate(caStarted.signer, identity);
    },
    rootsPem: () => caStarted?.trustBundlePem() ?? '',
    onChange: (connection) => ads.refresh(TypeUrl.Secret, connection),
    onRootsChange: () => ads.refresh(TypeUrl.Secret),
    logger,
  });
  const primary = config.clusters.find((c) => c.primary) ?? config.clusters[0];
  const proxyDefaults = { cluster: primary?.id ?? '', networkOf: (c: string) => registry.cluster(c)?.network ?? c };
  // Label children looked up once: these hooks run for every response and ACK of every proxy.
  const perType = new Map(
    Object.values(TypeUrl).map((typeUrl) => {
      // Lower case, as Istio's type labels are (pilot_xds_pushes{type="eds"}).
      const type = TYPE_SHORT_NAME[typeUrl].toLowerCase();
      return [typeUrl, { pushes: metrics.pushes.labels(type), pushBytes: metrics.pushBytes.labels(type), convergence: metrics.convergence.labels(type) }];
    }),
  );
  const ads = new AdsServer({
    source: resources,
    secrets,
    logger,
    proxyDefaults,
    hooks: {
      onConnect: (c) => metrics.connectedProxies.inc({ type: c.proxy.type, cluster: c.proxy.cluster }),
      onDisconnect: (c) => metrics.connectedProxies.dec({ type: c.proxy.type, cluster: c.proxy.cluster }),
      onResponse: (_c, typeUrl, _n, bytes) => {
        const type = perType.get(typeUrl);
        type?.pushes.inc();
        type?.pushBytes.inc(bytes);
      },
      onAck: (_c, typeUrl, ms) => {
        if (ms !== undefined) perType.get(typeUrl)?.convergence.observe(ms / 1000);
      },
      onNack: (_c, typeUrl) => metrics.rejects.inc({ type: TYPE_SHORT_NAME[typeUrl].toLowerCase() }),
    },
  });
  const push = new PushCoordinator({
    source: resources,
    ads,
    debounce: config.debounce,
    logger,
    onPush: (request) => metrics.debouncedPushes.inc({ kind: request.kind }),
    onPushed: (request, seconds) => metrics.pushTime.observe({ kind: request.kind }, seconds),
  });
  registry.setUpdater(push);
  policy.setUpdater(push);
  const dryRun = new DryRunCounter({ ads, snapshot: () => resources.snap(), intervalMs: config.policy.dryRunReadIntervalMs, logger, registry: metrics.registry });
  pushJwks = (uri) => push.configUpdate({ kind: 'full', configs: [{ kind: ConfigKind.RequestAuthentication, namespace: '', name: uri }], reasons: [`jwks ${uri}`] });

  const ca = await startCaRuntime({
    config,
    logger,
    primaryCluster: primary?.id ?? '',
    kubeConfigOf: (id) => clusters.kubeConfigOf(id),
    callbacks: {
      onIssued: (e) => {
        metrics.caIssued.inc();
        metrics.caLatency.observe(e.latencyMs / 1000);
      },
      onFailed: (e) => metrics.caFailed.inc({ reason: e.reason }),
    },
    onAuthorityChange: () => secrets.authorityChanged(),
  });
  caStarted = ca;
  caNotAfter = () => ca.signer.authority?.notAfter.getTime();

  // Readiness: every configured cluster synced, or the timeout passed (then say which are missing).
  const configuredIds = config.clusters.map((c) => c.id);
  const readinessDeadline = Date.now() + config.discovery.readinessTimeoutMs;
  let remoteSecrets: RemoteSecretController | undefined;
  let stopping: Promise<void> | undefined;

  // HTTP first, so liveness and readiness answer while clusters sync.
  const httpAddress = splitHostPort(config.listen.http);
  const http = await startHttp({
    listenKey: 'listen.http',
    host: httpAddress.host,
    port: httpAddress.port,
    logger,
    metrics,
    views: {
      ready: () => {
        // A draining replica leaves the Service's endpoints so new proxies go to the others.
        if (stopping) return { ready: false, detail: { draining: true, waitingFor: [] } };
        const missing = configuredIds.filter((id) => !clusters.hasSynced(id));
        const timedOut = Date.now() >= readinessDeadline;
        return {
          ready: missing.length === 0 || timedOut,
          detail: missing.length === 0 ? { waitingFor: [] } : timedOut ? { missing, waitingFor: [] } : { waitingFor: missing },
        };
      },
      files: {
        '/trust-bundle': { contentType: 'application/x-pem-file', body: (q) => ca.trustBundleFor(q['trustDomain']) },
        '/.well-known/spiffe-bundle': { contentType: 'application/json', body: () => JSON.stringify(ca.spiffeBundle()) },
      },
      debug: {
        // The pod name in Kubernetes: which replica answered.
        version: () => ({ version: MERIDIAN_VERSION, replica: hostname(), startedAt: new Date(startedAtWall).toISOString() }),
        ca: () => ca.debugView(),
        registryz: (query) => registryView(registry, query),
        clusterz: () => clustersView(clusters, remoteSecrets),
        policyz: () => ({ ...policy.view((h) => registry.service(h) !== undefined), enforcement: enforcementView(resources.snap(), ads), dryRun: dryRun.view(), jwks: jwks.view() }),
        authz: (q) => authzView(resources.snap(), q),
        syncz: (q) => syncView(ads, push, q),
        endpointz: (q) => endpointsView(resources, ads, proxyDefaults, q),
        config_dump: (q) => configDumpView(resources, ads, q),
        secretz: () => secrets.view(),
        cachez: () => ({ ...resources.stats, mergedViews: registry.mergedViews() }),
        // PUT with ?level= changes it (http.ts).
        loglevel: () => ({ level: logger.level }),
      },
      setLogLevel: (level) => changeLogLevel(logger, level),
      debugParams: debugParams({
        knownCluster: (id) => (clusters.ids().includes(id) ? undefined : `no cluster ${id} (clusters: ${clusters.ids().join(', ')})`),
        knownService: (host) => (registry.service(host) ? undefined : `no service ${host} (see /debug/registryz)`),
      }),
    },
    access: config.http.debugTokenFile === undefined ? {} : { token: debugTokenReader(config.http.debugTokenFile) },
  });

  const grpcServer = new grpc.Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  const tlsServer = new grpc.Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  let xdsPort = 0;
  let xdsTlsPort = 0;
  try {
    for (const cluster of config.clusters) await clusters.add(await clusterSpecFor(cluster));
    if (primary?.kubeconfig !== undefined && config.remoteSecrets.enabled) {
      const primarySpec = await clusterSpecFor(primary);
      if (primarySpec.source.type === 'kubernetes') {
        remoteSecrets = new RemoteSecretController({
          kubeConfig: primarySpec.source.kubeConfig,
          namespace,
          manager: clusters,
          policy: config.discovery.kubeconfigPolicy,
          backoff: config.discovery.backoff,
          logger,
        });
        remoteSecrets.start();
      }
    }
    // The gRPC port opens once clusters have synced (or the readiness timeout passed), so the
    // first proxies get the whole mesh rather than whatever had loaded.
    const missing = await clusters.waitForSync(configuredIds, Math.max(0, readinessDeadline - Date.now()));
    if (missing.length > 0) logger.error({ missing }, 'clusters not synced within the readiness timeout; serving without them');

    ads.addTo(grpcServer);
    // CSDS shows every proxy's config (never a secret's body): on the TLS port only to a caller
    // with a client certificate of the mesh; the plaintext port is for trusted networks.
    const identify = svidPeerIdentity(config.trustDomain);
    addCsdsService(grpcServer, ads, { logger });
    addCsdsService(tlsServer, ads, { logger, identify });
    if (config.ca.plaintext) {
      ca.addCertificateService(grpcServer);
      ca.addJwtSvidService(grpcServer);
    }
    const xds = splitHostPort(config.listen.xds);
    xdsPort = await bind(grpcServer, xds, grpc.ServerCredentials.createInsecure(), 'listen.xds');
    // The TLS port: proxies prove who they are with their SVID; the certificate API lives here.
    ads.addTo(tlsServer, { identify });
    ca.addCertificateService(tlsServer);
    ca.addJwtSvidService(tlsServer);
    const xdsTls = splitHostPort(config.listen.xdsTls);
    xdsTlsPort = await bind(tlsServer, xdsTls, ca.serverCredentials, 'listen.xdsTls');
    logger.info(
      {
        xds: `${xds.host}:${xdsPort}`,
        xdsTls: `${xdsTls.host}:${xdsTlsPort}`,
        http: `${httpAddress.host}:${http.port}`,
        clusters: clusters.ids(),
        services: registry.services().length,
        startupMs: Math.round(performance.now() - startedAt),
      },
      'meridian ready',
    );
    dryRun.start();
  } catch (err) {
    grpcServer.forceShutdown();
    tlsServer.forceShutdown();
    ca.stop();
    secrets.stop();
    jwks.stop();
    await remoteSecrets?.stop();
    await clusters.stop();
    await http.app.close();
    throw err;
  }

  const stop = () =>
    (stopping ??= (async () => {
      logger.info({ proxies: ads.list().length, drainMs: config.shutdown.drainMs }, 'shutting down');
      // tryShutdown closes the listeners and refuses new streams at once; open streams never
      // end by themselves, so proxies are told to reconnect (to another replica), spread over
      // the drain period. Pushes keep reaching the streams not yet closed.
      const closed = [grpcServer, tlsServer].map((server) => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
      const drained = await ads.drain({ drainMs: config.shutdown.drainMs });
      push.stop();
      // In-flight unary calls (certificate requests) and queued writes get graceMs to finish.
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), config.shutdown.graceMs);
      });
      if (await Promise.race([Promise.all(closed).then(() => false), forced])) {
        grpcServer.forceShutdown();
        tlsServer.forceShutdown();
      }
      clearTimeout(timer);
      logger.info({ drained }, 'streams drained');
      ca.stop();
      secrets.stop();
      jwks.stop();
      dryRun.stop();
      await remoteSecrets?.stop();
      await clusters.stop();
      await http.app.close();
      logger.info('stopped');
    })());

  return { xdsPort, xdsTlsPort, httpPort: http.port, registry, clusters, ads, ca, metrics, stop };
}

function bind(server: grpc.Server, address: { host: string; port: number }, credentials: grpc.ServerCredentials, key: string): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(`${address.host}:${address.port}`, credentials, (err, port) => (err ? reject(listenError(err, key, `${address.host}:${address.port}`)) : resolve(port))),
  );
}
