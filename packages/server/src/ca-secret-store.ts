/**
 * The self-signed CA kept in a Kubernetes Secret of the primary cluster, so that every replica
 * signs with one root (DESIGN.md §1: replicas are stateless apart from CA key material).
 *
 * The API server is the only arbiter: the first replica to *create* the Secret wins, and every
 * other one adopts what it finds. An existing Secret is never updated or patched, so a bug or a
 * bad read can never replace a root that workloads already trust.
 */
import { Buffer } from 'node:buffer';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import {
  CaError,
  CaErrorCode,
  CacertsFile,
  LOCAL_JWT_KEY_FILE,
  certToPem,
  createAuthority,
  createSelfSignedRoot,
  fromPemAll,
  toPem,
  type CaAuthority,
  type CaKeyAlgorithm,
} from '@meridian/ca';
import { errorMessage, type Logger } from '@meridian/model';

/** The local JWT issuer's key lives beside the CA, under the same name as in `ca.dir`. */
export const CA_SECRET_JWT_KEY = LOCAL_JWT_KEY_FILE;

export interface CaSecretStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly trustDomain: string;
  readonly keyAlgorithm?: CaKeyAlgorithm;
  /** The Secret must hold the local issuer's key (ca.localIssuer.enabled). */
  readonly requireJwtKey: boolean;
  readonly logger: Logger;
  /** How long transient API failures (5xx, 429, no answer) are retried before giving up. */
  readonly retryForMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly now?: Date;
}

export interface CaSecretMaterial {
  readonly authority: CaAuthority;
  /** The local JWT issuer's key, when the Secret holds one. */
  readonly jwtKey: KeyObject | undefined;
  /** True when this replica created the Secret; false when it adopted an existing one. */
  readonly created: boolean;
  /** `namespace/name`, for logs and /debug/ca. */
  readonly ref: string;
}

export const CA_SECRET_LABELS = { 'app.kubernetes.io/name': 'meridian' } as const;

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** No status (connection refused, reset) or one a later attempt may not get. */
const isTransient = (err: unknown): boolean => {
  const s = statusOf(err);
  return s === undefined || s === 429 || s >= 500;
};

/**
 * Reads the CA Secret, or creates it with a new root when there is none. Throws a CaError naming
 * the Secret (and the key) when the Secret exists but does not hold a valid CA: the caller must
 * refuse to start rather than mint a second root.
 */
export async function loadOrCreateCaSecret(options: CaSecretStoreOptions): Promise<CaSecretMaterial> {
  const { namespace, name, logger } = options;
  const ref = `${namespace}/${name}`;
  const core = await coreApi(options.kubeConfig);
  const retry = retrier(options);

  const read = async (): Promise<V1Secret | undefined> =>
    retry(`read Secret ${ref}`, async () => {
      try {
        return await core.readNamespacedSecret({ name, namespace });
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });

  const existing = await read();
  if (existing) return { ...parseCaSecret(existing, options), created: false, ref };

  const body = await newCaSecret(options);
  const won = await retry(`create Secret ${ref}`, async () => {
    try {
      await core.createNamespacedSecret({ namespace, body });
      return true;
    } catch (err) {
      // Another replica created it between our read and our create: theirs is the one.
      if (statusOf(err) === 409) return false;
      throw err;
    }
  });
  if (won) {
    logger.info({ secret: ref }, 'created the CA Secret with a new self-signed root');
    return { ...parseCaSecret(body, options), created: true, ref };
  }
  const theirs = await read();
  if (!theirs) throw new CaError(CaErrorCode.Storage, `Secret ${ref}: creating it said AlreadyExists, but reading it says NotFound (deleted meanwhile?)`);
  logger.info({ secret: ref }, 'another replica created the CA Secret first; using its root');
  return { ...parseCaSecret(theirs, options), created: false, ref };
}

/**
 * Reads the CA Secret without ever creating it (`meridian token`: a CLI must not mint a root).
 * Undefined when there is no such Secret yet.
 */
export async function readCaSecret(options: Omit<CaSecretStoreOptions, 'trustDomain' | 'keyAlgorithm'>): Promise<CaSecretMaterial | undefined> {
  const { namespace, name } = options;
  const ref = `${namespace}/${name}`;
  const core = await coreApi(options.kubeConfig);
  const secret = await retrier(options)(`read Secret ${ref}`, async () => {
    try {
      return await core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
  return secret ? { ...parseCaSecret(secret, options), created: false, ref } : undefined;
}

async function newCaSecret(options: CaSecretStoreOptions): Promise<V1Secret> {
  const root = await createSelfSignedRoot({
    trustDomain: options.trustDomain,
    ...(options.keyAlgorithm === undefined ? {} : { keyAlgorithm: options.keyAlgorithm }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  // Always included, even with the local issuer off: the Secret is never updated, so a key
  // added later could not reach the replicas that already run.
  const { privateKey: jwtKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certPem = certToPem(root.certDer);
  const files: Record<string, string> = {
    [CacertsFile.cert]: certPem,
    [CacertsFile.key]: toPem(root.key.export({ type: 'pkcs8', format: 'der' }), 'PRIVATE KEY'),
    [CacertsFile.chain]: certPem,
    [CacertsFile.roots]: certPem,
    [CA_SECRET_JWT_KEY]: jwtKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: options.name, namespace: options.namespace, labels: { ...CA_SECRET_LABELS } },
    data: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** The same checks as `loadCacerts` (and so `createAuthority`), with errors naming the Secret's key. */
export function parseCaSecret(secret: V1Secret, options: Pick<CaSecretStoreOptions, 'namespace' | 'name' | 'requireJwtKey' | 'now'>): Omit<CaSecretMaterial, 'created' | 'ref'> {
  const where = `Secret ${options.namespace}/${options.name}`;
  const fail = (key: string, what: string, cause?: unknown): never => {
    throw new CaError(CaErrorCode.Config, `${where}: key ${key} ${what}`, cause === undefined ? undefined : { cause });
  };
  const data = secret.data ?? {};
  const text = (key: string): string | undefined => {
    const v = data[key];
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
  };
  const required = (key: string): string => text(key) ?? fail(key, 'is missing');
  const certs = (key: string, t: string): Buffer[] => {
    const found = fromPemAll(t, 'CERTIFICATE');
    return found.length > 0 ? found : fail(key, 'holds no PEM CERTIFICATE');
  };
  const privateKey = (key: string, t: string): KeyObject => {
    try {
      return createPrivateKey(t);
    } catch (err) {
      return fail(key, 'is not a readable unencrypted private key', err);
    }
  };

  const [certDer, ...extra] = certs(CacertsFile.cert, required(CacertsFile.cert));
  if (certDer === undefined || extra.length > 0) return fail(CacertsFile.cert, 'must hold exactly one certificate');
  const key = privateKey(CacertsFile.key, required(CacertsFile.key));
  const chainText = text(CacertsFile.chain);
  const authority = createAuthority({
    certDer,
    key,
    chainDer: chainText === undefined || chainText.trim() === '' ? [] : certs(CacertsFile.chain, chainText),
    rootsDer: certs(CacertsFile.roots, required(CacertsFile.roots)),
    source: where,
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  const jwtText = text(CA_SECRET_JWT_KEY);
  if (jwtText === undefined) {
    if (options.requireJwtKey) return fail(CA_SECRET_JWT_KEY, 'is missing (needed by ca.localIssuer; add it, or set ca.localIssuer.enabled: false)');
    return { authority, jwtKey: undefined };
  }
  const jwtKey = privateKey(CA_SECRET_JWT_KEY, jwtText);
  if (jwtKey.asymmetricKeyType !== 'ec' || jwtKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return fail(CA_SECRET_JWT_KEY, 'must be an EC P-256 private key');
  return { authority, jwtKey };
}

/** Retries transient API failures with capped exponential backoff until the deadline. */
function retrier(options: Pick<CaSecretStoreOptions, 'retryForMs' | 'backoff' | 'logger'>) {
  const deadline = Date.now() + (options.retryForMs ?? 30_000);
  const { initialMs, maxMs } = options.backoff ?? { initialMs: 500, maxMs: 5000 };
  return async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    for (let delay = initialMs; ; delay = Math.min(delay * 2, maxMs)) {
      try {
        return await call();
      } catch (err) {
        if (!isTransient(err) || Date.now() + delay > deadline) {
          const status = statusOf(err);
          const hint = status === 403 ? ' (Meridian needs get and create on secrets in its namespace)' : '';
          throw new CaError(CaErrorCode.Storage, `cannot ${what}${status === undefined ? '' : ` (HTTP ${status})`}${hint}: ${errorMessage(err)}`, { cause: err });
        }
        options.logger.warn({ error: errorMessage(err), retryInMs: delay }, `cannot ${what} yet; retrying`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
}

/** client-node is loaded when the CA Secret is used, not when the module is. */
async function coreApi(kubeConfig: KubeConfig): Promise<CoreV1Api> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  return kubeConfig.makeApiClient(CoreV1Api);
}
