import { Buffer } from 'node:buffer';
import { X509Certificate as X509, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  BundleFetcher,
  CaError,
  CaErrorCode,
  CaKeyAlgorithm,
  ClientCertAuthenticator,
  JwtAuthenticator,
  KubeTokenAuthenticator,
  KubeTokenReviewer,
  JwtSvidSigner,
  LocalJwtIssuer,
  SvidSigner,
  TlsMaterialProvider,
  addCertificateService,
  addJwtSvidService,
  loadCacerts,
  loadOrCreateSelfSignedCa,
  optionalClientCertCredentials,
  rotatedCertTrust,
  spiffeBundle,
  trustBundlePem,
  type CaAuthority,
  type CertTrust,
  type CertificateService,
  type CertificateServiceCallbacks,
  type FederatedBundle,
  type JwtIssuerConfig,
} from '@meridian/ca';
import { errorMessage, type Logger } from '@meridian/model';
import { loadOrCreateCaSecret, readCaSecret, type CaSecretMaterial } from './ca-secret-store.ts';
import { clusterSpecFor } from './clusters.ts';
import type { MeridianConfig } from './config.ts';
import type { FileBody } from './http.ts';

export interface CaRuntime {
  readonly signer: SvidSigner;
  readonly issuer: LocalJwtIssuer | undefined;
  /** Server credentials for listen.xdsTls: our serving certificate; client SVIDs requested, not required. */
  readonly serverCredentials: grpc.ServerCredentials;
  addCertificateService(server: grpc.Server): CertificateService;
  /** `meridian.v1.JwtSvidService`: JWT-SVIDs for callers authenticated as for certificates. */
  addJwtSvidService(server: grpc.Server): void;
  /** Our own roots, PEM. */
  trustBundlePem(): string;
  /**
   * `/trust-bundle?trustDomain=`: our roots when absent or ours, a federated domain's last good
   * bundle (kept apart from ours), 404 for a domain we do not know.
   */
  trustBundleFor(trustDomain: string | undefined): FileBody;
  /** The federated trust domains and what was last fetched for each. */
  federation(): readonly FederatedBundle[];
  spiffeBundle(): object;
  debugView(): object;
  stop(): void;
}

export interface CaRuntimeOptions {
  readonly config: MeridianConfig;
  readonly logger: Logger;
  readonly primaryCluster: string;
  /** Meridian's credentials in a cluster, for TokenReview there (looked up per request). */
  readonly kubeConfigOf: (clusterId: string) => KubeConfig | undefined;
  readonly callbacks?: Partial<CertificateServiceCallbacks>;
  /** The signing CA was replaced (a plugged-in CA reloaded): roots or chain may differ. */
  readonly onAuthorityChange?: () => void;
}

const ALGORITHMS: Record<MeridianConfig['ca']['keyAlgorithm'], CaKeyAlgorithm> = {
  ECDSA_P256: CaKeyAlgorithm.EcdsaP256,
  ECDSA_P384: CaKeyAlgorithm.EcdsaP384,
  RSA_2048: CaKeyAlgorithm.Rsa2048,
  RSA_3072: CaKeyAlgorithm.Rsa3072,
  RSA_4096: CaKeyAlgorithm.Rsa4096,
};

/**
 * The CA as the server runs it: signing material (self-signed and persisted, or plugged in
 * and reloaded on change), the serving certificate of the TLS port (renewed before it
 * expires), the caller authenticators, and the trust bundle.
 */
export async function startCaRuntime(options: CaRuntimeOptions): Promise<CaRuntime> {
  const { config, logger: root } = options;
  const logger = root.child({ component: 'ca' });
  const { trustDomain } = config;
  const stored = config.ca.secret.enabled === true ? await caFromSecret(options, logger) : undefined;
  const authority = stored
    ? stored.authority
    : config.ca.cacerts
      ? await loadCacerts(config.ca.cacerts)
      : (await loadOrCreateSelfSignedCa({ dir: config.ca.dir, trustDomain, keyAlgorithm: ALGORITHMS[config.ca.keyAlgorithm] })).authority;
  const source = stored
    ? { type: 'secret', secret: stored.ref, created: stored.created }
    : config.ca.cacerts
      ? { type: 'cacerts', dir: config.ca.cacerts }
      : { type: 'self-signed', dir: config.ca.dir };
  logCa(logger, authority, stored ? `self-signed (Secret ${stored.ref}, ${stored.created ? 'created' : 'existing'})` : config.ca.cacerts ? `plugged in (${config.ca.cacerts})` : `self-signed (${config.ca.dir})`);
  // Kept apart from the signer's authority: across a switch of signing CA, SVIDs of the previous
  // one must still renew by certificate while their root is in root-cert.pem.
  let clientTrust: CertTrust = rotatedCertTrust(undefined, authority);
  const signer = new SvidSigner({
    trustDomain,
    authority,
    defaultTtlSeconds: config.ca.defaultTtlSeconds,
    maxTtlSeconds: config.ca.maxTtlSeconds,
  });

  const dnsNames = config.ca.servingDnsNames ?? [`meridian.${config.namespace ?? 'meridian-system'}.svc`, 'localhost'];
  const serving = async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = await signer.signServingCertificate({ publicKey, dnsNames });
    const current = signer.authority;
    return {
      material: {
        keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        certChainPem: cert.certChainPem.join(''),
        caPem: current ? trustBundlePem(current.rootsDer).join('') : '',
      },
      notAfter: cert.notAfter,
      notBefore: cert.notBefore,
    };
  };
  let current = await serving();
  const provider = new TlsMaterialProvider({ material: current.material });
  let renewTimer: NodeJS.Timeout | undefined;
  const scheduleRenewal = () => {
    // Renew at two thirds of the lifetime, like a workload agent would.
    const lifetime = current.notAfter.getTime() - current.notBefore.getTime();
    const at = current.notBefore.getTime() + (lifetime * 2) / 3;
    renewTimer = setTimeout(() => void renew('scheduled'), Math.max(1000, Math.min(at - Date.now(), 2 ** 31 - 1)));
    renewTimer.unref();
  };
  const renew = async (why: string) => {
    try {
      current = await serving();
      provider.update(current.material);
      logger.info({ why, notAfter: current.notAfter.toISOString() }, 'serving certificate renewed');
    } catch (err) {
      logger.error({ err, why }, 'serving certificate renewal failed; keeping the old one');
    }
    if (renewTimer) clearTimeout(renewTimer);
    scheduleRenewal();
  };
  scheduleRenewal();

  // A plugged-in CA is reloaded when its files change (root rotation, new intermediate).
  let watcher: FSWatcher | undefined;
  let pending: NodeJS.Timeout | undefined;
  if (config.ca.cacerts) {
    const dir = config.ca.cacerts;
    const reload = async () => {
      try {
        const next = await loadCacerts(dir);
        const prev = signer.authority;
        // Writers touch the directory more than once per change (Kubernetes' ..data swap, staging dirs).
        if (prev && sameMaterial(prev, next)) return;
        clientTrust = rotatedCertTrust(clientTrust, next);
        signer.setAuthority(next);
        logCa(logger, next, 'reloaded');
        await renew('CA reloaded');
        options.onAuthorityChange?.();
      } catch (err) {
        logger.error({ error: errorMessage(err), dir }, 'plugged-in CA failed to reload; keeping the current one');
      }
    };
    watcher = watch(dir, () => {
      if (pending) clearTimeout(pending);
      pending = setTimeout(() => void reload(), 200);
      pending.unref();
    });
    // An unhandled 'error' (directory removed, watch limit) would end the process.
    watcher.on('error', (err) => logger.error({ err, dir }, 'watching the plugged-in CA failed; it will not be reloaded until restart'));
  }

  // With the CA in a Secret, so is the issuer's key: a token minted by one replica verifies on all.
  const issuer = !config.ca.localIssuer.enabled
    ? undefined
    : stored?.jwtKey
      ? new LocalJwtIssuer({ key: stored.jwtKey, issuer: config.ca.localIssuer.issuer })
      : await LocalJwtIssuer.loadOrCreate({ dir: config.ca.dir, issuer: config.ca.localIssuer.issuer });
  const configuredIssuers: JwtIssuerConfig[] = await Promise.all(
    config.ca.jwtIssuers.map(async (j) => ({
      issuer: j.issuer,
      jwks: JSON.parse(await readFile(j.jwksFile, 'utf8')) as unknown,
      ...(j.audiences ? { audiences: j.audiences } : {}),
      ...(j.cluster ? { cluster: j.cluster } : {}),
    })),
  );
  const reviewers = new Map<KubeConfig, KubeTokenReviewer>();
  const authenticators = [
    new ClientCertAuthenticator({ trust: () => (signer.authority ? clientTrust : undefined), trustDomain }),
    new JwtAuthenticator({ issuers: [...(issuer ? [issuer.issuerConfig()] : []), ...configuredIssuers], audiences: config.ca.audiences }),
    new KubeTokenAuthenticator({
      primaryCluster: options.primaryCluster,
      audiences: config.ca.audiences,
      reviewerFor: (clusterId) => {
        const kc = options.kubeConfigOf(clusterId);
        if (!kc) return undefined;
        let reviewer = reviewers.get(kc);
        if (!reviewer) reviewers.set(kc, (reviewer = new KubeTokenReviewer({ kubeConfig: kc })));
        return reviewer;
      },
    }),
  ];

  const fetchers = startFederation(config, logger);

  let bundleSequence = 1;
  let bundleRoots = '';
  const roots = () => signer.authority?.rootsDer ?? [];
  // Derived from the CA key: the same on every replica holding the CA, replaced with it.
  let jwtSigner: { key: KeyObject; signer: JwtSvidSigner } | undefined;
  const jwtSvidSigner = (): JwtSvidSigner | undefined => {
    const key = signer.authority?.key;
    if (!key) return undefined;
    if (jwtSigner?.key !== key) jwtSigner = { key, signer: JwtSvidSigner.fromCaKey(key) };
    return jwtSigner.signer;
  };
  return {
    signer,
    issuer,
    serverCredentials: optionalClientCertCredentials(provider),
    addCertificateService: (server) =>
      addCertificateService(server, {
        signer,
        authenticators,
        logger: root,
        rateLimit: config.ca.rateLimit,
        ...(options.callbacks ? { callbacks: options.callbacks } : {}),
      }),
    addJwtSvidService: (server) =>
      addJwtSvidService(server, { trustDomain, signer: jwtSvidSigner, authenticators, logger: root, rateLimit: config.ca.rateLimit }),
    trustBundlePem: () => trustBundlePem(roots()).join(''),
    trustBundleFor: (td) => {
      if (td === undefined || td === '' || td === trustDomain) return trustBundlePem(roots()).join('');
      const f = fetchers.get(td);
      if (!f) return { status: 404, reason: `unknown trust domain ${td}` };
      if (f.state.roots.length === 0) return { status: 503, reason: `no bundle fetched yet for ${td}${f.state.lastError ? `: ${f.state.lastError.message}` : ''}` };
      return trustBundlePem(f.state.roots).join('');
    },
    federation: () => [...fetchers.values()].map((f) => f.state),
    spiffeBundle: () => {
      const jwtKey = jwtSvidSigner()?.bundleKey;
      const content = `${trustBundlePem(roots()).join('')}${jwtKey?.kid ?? ''}`;
      if (content !== bundleRoots) {
        if (bundleRoots) bundleSequence++;
        bundleRoots = content;
      }
      return spiffeBundle({ rootsDer: roots(), refreshHintSeconds: 300, sequence: bundleSequence, ...(jwtKey ? { jwtKeys: [jwtKey] } : {}) });
    },
    debugView: () => {
      const a = signer.authority;
      return {
        trustDomain,
        trustDomains: [trustDomain, ...fetchers.keys()],
        source,
        signing: a ? describe(a.cert) : null,
        intermediates: a?.intermediatesDer.map((d) => describe(new X509(d))) ?? [],
        roots: roots().map((d) => describe(new X509(d))),
        serving: { dnsNames, notBefore: current.notBefore.toISOString(), notAfter: current.notAfter.toISOString() },
        localIssuer: issuer ? config.ca.localIssuer.issuer : null,
        jwtIssuers: configuredIssuers.map((i) => i.issuer),
        stats: signer.stats(),
        federation: [...fetchers.values()].map((f) => federationView(f.state)),
      };
    },
    stop: () => {
      if (renewTimer) clearTimeout(renewTimer);
      watcher?.close();
      if (pending) clearTimeout(pending);
      for (const f of fetchers.values()) f.stop();
    },
  };
}

/** Where the CA Secret lives; config validation guarantees the primary has a kubeconfig. */
async function caSecretLocation(config: MeridianConfig, primaryCluster: string | undefined, logger: Logger) {
  const primary = config.clusters.find((c) => c.id === primaryCluster) ?? config.clusters.find((c) => c.primary) ?? config.clusters[0];
  const spec = primary ? await clusterSpecFor(primary) : undefined;
  if (spec?.source.type !== 'kubernetes') throw new CaError(CaErrorCode.Config, 'ca.secret is enabled but the primary cluster has no kubeconfig');
  return {
    kubeConfig: spec.source.kubeConfig,
    namespace: config.namespace ?? 'meridian-system',
    name: config.ca.secret.name,
    requireJwtKey: config.ca.localIssuer.enabled,
    logger,
    retryForMs: config.discovery.readinessTimeoutMs,
    backoff: config.discovery.backoff,
  };
}

async function caFromSecret(options: CaRuntimeOptions, logger: Logger): Promise<CaSecretMaterial> {
  const { config } = options;
  return loadOrCreateCaSecret({
    ...(await caSecretLocation(config, options.primaryCluster, logger)),
    trustDomain: config.trustDomain,
    keyAlgorithm: ALGORITHMS[config.ca.keyAlgorithm],
  });
}

/**
 * The local issuer as `serve` has it, for `meridian token`: from the CA Secret when ca.secret is
 * on (read only; the server creates it), else from ca.dir.
 */
export async function loadLocalJwtIssuer(config: MeridianConfig, logger: Logger): Promise<LocalJwtIssuer> {
  const issuer = config.ca.localIssuer.issuer;
  if (config.ca.secret.enabled !== true) return LocalJwtIssuer.loadOrCreate({ dir: config.ca.dir, issuer });
  const stored = await readCaSecret(await caSecretLocation(config, undefined, logger));
  if (!stored?.jwtKey) throw new CaError(CaErrorCode.NotReady, `Secret ${config.namespace ?? 'meridian-system'}/${config.ca.secret.name} does not exist yet: start meridian serve first`);
  return new LocalJwtIssuer({ key: stored.jwtKey, issuer });
}

/** One fetcher per federated trust domain; never our own, each domain once. */
function startFederation(config: MeridianConfig, logger: Logger): Map<string, BundleFetcher> {
  const fetchers = new Map<string, BundleFetcher>();
  for (const f of config.federation) {
    if (f.trustDomain === config.trustDomain) {
      logger.error({ trustDomain: f.trustDomain }, 'federation entry names our own trust domain; ignored (our roots come from our CA)');
      continue;
    }
    if (fetchers.has(f.trustDomain)) {
      logger.error({ trustDomain: f.trustDomain }, 'trust domain federated twice; the first entry wins');
      continue;
    }
    const fetcher = new BundleFetcher({
      trustDomain: f.trustDomain,
      endpoint: f.bundleEndpoint,
      logger,
      ...(f.caFile === undefined ? {} : { caFile: f.caFile }),
      ...(f.refreshHintSeconds === undefined ? {} : { refreshHintSeconds: f.refreshHintSeconds }),
    });
    fetchers.set(f.trustDomain, fetcher);
    // Not awaited: a slow or dead peer must not hold up startup; it shows in /debug/ca meanwhile.
    void fetcher.start();
  }
  return fetchers;
}

function federationView(b: FederatedBundle): object {
  return {
    trustDomain: b.trustDomain,
    endpoint: b.endpoint,
    sequence: b.sequence ?? null,
    fetchedAt: b.fetchedAt?.toISOString() ?? null,
    nextRefreshAt: b.nextRefreshAt?.toISOString() ?? null,
    lastError: b.lastError ? { message: b.lastError.message, at: b.lastError.at.toISOString() } : null,
    roots: b.roots.map((d) => describe(new X509(d))),
  };
}

function sameMaterial(a: CaAuthority, b: CaAuthority): boolean {
  const same = (x: readonly Uint8Array[], y: readonly Uint8Array[]) => x.length === y.length && x.every((d, i) => Buffer.compare(d, y[i] ?? Buffer.alloc(0)) === 0);
  return a.certDer.equals(b.certDer) && same(a.intermediatesDer, b.intermediatesDer) && same(a.rootsDer, b.rootsDer);
}

function describe(cert: X509): object {
  return { subject: cert.subject, serial: cert.serialNumber, notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString(), fingerprint256: cert.fingerprint256 };
}

function logCa(logger: Logger, a: CaAuthority, how: string): void {
  logger.info({ how, subject: a.cert.subject, notAfter: a.notAfter.toISOString(), roots: a.rootsDer.length }, 'CA loaded');
}
