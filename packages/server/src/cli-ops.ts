/**
 * Operator commands: `meridian create-remote-secret`, `meridian check`, `meridian status`.
 * They talk to clusters and to a running Meridian the way an operator would (kubeconfigs,
 * the HTTP port), never to Meridian's internals.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as KubeClient from '@kubernetes/client-node';
import type { CoreV1Api, KubeConfig, V1PolicyRule } from '@kubernetes/client-node';
import {
  POLICY_RESOURCES,
  REMOTE_SECRET_LABELS,
  STRICT_KUBECONFIG_POLICY,
  kubeconfigViolations,
  loadKubeconfigFile,
  loadKubeconfigText,
  missingPermissions,
  tokenExpiry,
} from '@meridian/discovery';
import { errorMessage, errorMessageWithCauses } from '@meridian/model';
import { stringify } from 'yaml';
import { UsageError } from './cli-ca.ts';
import { clusterSpecFor } from './clusters.ts';
import { loadConfig, readEnv, type MeridianConfig } from './config.ts';
import { checkReplicas } from './cli-check-replicas.ts';
import { debugClient, type DebugReader } from './debug-client.ts';
import { kubeReplicaReaders } from './kube-replicas.ts';

const DEFAULT_NAMESPACE = 'meridian-system';
const READER = 'meridian-reader';
const NETWORK_LABEL = 'topology.istio.io/network';
/** `meridian check` warns when a cluster credential expires sooner than this. */
const EXPIRY_WARNING_MS = 7 * 24 * 3600 * 1000;

/** What the primary's Meridian needs in a remote cluster; the same rules as deploy/remote/reader.yaml. */
export const READER_RULES: readonly V1PolicyRule[] = [
  { apiGroups: [''], resources: ['services', 'pods', 'nodes', 'namespaces'], verbs: ['list', 'watch'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
  ...[...new Set(POLICY_RESOURCES.map((r) => r.group))].map((group) => ({
    apiGroups: [group],
    resources: POLICY_RESOURCES.filter((r) => r.group === group).map((r) => r.plural),
    verbs: ['list', 'watch'],
  })),
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectrulesreviews'], verbs: ['create'] },
];

const statusCode = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** Reads an object, creating it when the API says 404; says which it did on stderr. */
async function ensure(what: string, read: () => Promise<unknown>, create: () => Promise<unknown>): Promise<void> {
  try {
    await read();
    process.stderr.write(`${what}: exists\n`);
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    await create();
    process.stderr.write(`${what}: created\n`);
  }
}

/**
 * `meridian create-remote-secret`: makes sure the remote cluster has the reader identity
 * (namespace, ServiceAccount, ClusterRole and binding: created when missing, never changed
 * when present, so applying deploy/remote first is fine and so is not applying it), gets it
 * a token, and prints the remote Secret for the primary. The kubeconfig inside is
 * self-contained (server, CA data, token): nothing that points at local files or programs,
 * which the primary's kubeconfig policy would refuse.
 */
export async function createRemoteSecretCommand(values: {
  kubeconfig?: string;
  context?: string;
  name?: string;
  namespace: string;
  serviceAccount: string;
  server?: string;
  tokenTtl: string;
  tokenSecret?: string;
}): Promise<number> {
  const file = values.kubeconfig;
  if (!file) throw new UsageError('--kubeconfig FILE (of the remote cluster) is required');
  const id = values.name;
  if (!id || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(id)) throw new UsageError('--name CLUSTER_ID is required (lowercase letters, digits, "-" and ".")');
  const ttl = Number(values.tokenTtl);
  if (!Number.isInteger(ttl) || ttl < 600) throw new UsageError('--token-ttl must be at least 600 seconds');
  const { namespace } = values;
  const sa = values.serviceAccount;
  const kc = await loadKubeconfigFile(file, values.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new UsageError(`${file}: no current cluster`);
  const { CoreV1Api, RbacAuthorizationV1Api } = await kubeClient();
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);

  await ensure(`namespace ${namespace}`, () => core.readNamespace({ name: namespace }), () =>
    core.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } }),
  );
  await ensure(`serviceaccount ${namespace}/${sa}`, () => core.readNamespacedServiceAccount({ name: sa, namespace }), () =>
    core.createNamespacedServiceAccount({ namespace, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace } } }),
  );
  await ensure(`clusterrole ${READER}`, () => rbac.readClusterRole({ name: READER }), () =>
    rbac.createClusterRole({ body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: READER }, rules: [...READER_RULES] } }),
  );
  const binding = sa === READER ? READER : `${READER}-${namespace}-${sa}`;
  await ensure(`clusterrolebinding ${binding}`, () => rbac.readClusterRoleBinding({ name: binding }), () =>
    rbac.createClusterRoleBinding({
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: binding },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: READER },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
      },
    }),
  );

  let token: string;
  if (values.tokenSecret) {
    token = await secretToken(core, namespace, values.tokenSecret);
  } else {
    const request = await core.createNamespacedServiceAccountToken({
      name: sa,
      namespace,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: ttl } },
    });
    token = request.status?.token ?? '';
    if (!token) throw new Error('the TokenRequest returned no token');
    const expires = request.status?.expirationTimestamp;
    process.stderr.write(`token for ${namespace}/${sa}${expires ? `, expires ${new Date(expires).toISOString()}` : ''}\n`);
  }

  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: id,
        cluster: {
          server: values.server ?? cluster.server,
          ...(caData ? { 'certificate-authority-data': caData } : {}),
          ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name: `${id}-${sa}`, user: { token } }],
    contexts: [{ name: id, context: { cluster: id, user: `${id}-${sa}` } }],
    'current-context': id,
  });
  const violations = kubeconfigViolations(kubeconfig, STRICT_KUBECONFIG_POLICY);
  if (violations.length > 0) throw new Error(`generated kubeconfig would be refused: ${violations.join('; ')}`);
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `meridian-remote-secret-${id}`,
      namespace,
      labels: { 'meridian.dev/multi-cluster': 'true' },
      annotations: { 'meridian.dev/cluster': id },
    },
    type: 'Opaque',
    data: { [id]: Buffer.from(kubeconfig).toString('base64') },
  };
  process.stdout.write(`# Remote secret for cluster ${id}: apply it in the primary cluster.\n---\n${stringify(secret)}`);
  return 0;
}

/** The token Kubernetes' token controller puts in a `kubernetes.io/service-account-token` Secret. */
async function secretToken(core: CoreV1Api, namespace: string, name: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const secret = await core.readNamespacedSecret({ name, namespace });
    const token = secret.data?.['token'];
    if (token) return Buffer.from(token, 'base64').toString('utf8');
    if (Date.now() > deadline) throw new Error(`secret ${namespace}/${name} has no token (is it a kubernetes.io/service-account-token Secret of the reader?)`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface ClusterCheck {
  readonly id: string;
  readonly origin: string;
  readonly server: string | null;
  readonly reachable: boolean;
  readonly version: string | null;
  readonly missingPermissions: readonly string[] | null;
  readonly tokenExpiry: string | null;
  readonly network: string | null;
  readonly gateways: number | null;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

interface Target {
  readonly id: string;
  readonly origin: string;
  readonly kubeConfig?: KubeConfig;
  /** Set when the cluster cannot even be loaded (bad kubeconfig in a secret). */
  readonly error?: string;
  readonly manifests?: string;
  readonly network?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function checkTarget(t: Target, config: MeridianConfig, namespace: string, timeoutMs: number, now: number): Promise<ClusterCheck & { networkKnown: string }> {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (t.error) errors.push(t.error);
  if (!t.kubeConfig) {
    const network = t.network ?? t.id;
    return { id: t.id, origin: t.origin, server: t.manifests ?? null, reachable: !t.error, version: null, missingPermissions: null, tokenExpiry: null, network, gateways: config.networks[network]?.gateways.length ?? 0, errors, warnings, networkKnown: network };
  }
  const kc = t.kubeConfig;
  const server = kc.getCurrentCluster()?.server ?? null;
  let version: string | null = null;
  let reachable = false;
  try {
    const v = await withTimeout(kc.makeApiClient((await kubeClient()).VersionApi).getCode(), timeoutMs, 'GET /version');
    version = v.gitVersion;
    reachable = true;
  } catch (err) {
    errors.push(`unreachable: ${server ?? '(no server in the kubeconfig)'}: ${describe(err)}`);
  }
  let missing: string[] | null = null;
  let network = t.network;
  let gatewayServices = 0;
  if (reachable) {
    try {
      missing = await withTimeout(missingPermissions(kc, namespace), timeoutMs, 'SelfSubjectRulesReview');
      if (missing.length > 0) errors.push(`missing permissions: ${missing.join(', ')}`);
    } catch (err) {
      errors.push(`permission review failed: ${describe(err)}`);
    }
    // Same sources as discovery: the configured network, else the system namespace's label.
    const core = kc.makeApiClient((await kubeClient()).CoreV1Api);
    try {
      if (!network) {
        const ns = await withTimeout(core.listNamespace({ fieldSelector: `metadata.name=${namespace}` }), timeoutMs, 'list namespaces');
        network = ns.items[0]?.metadata?.labels?.[NETWORK_LABEL];
      }
      const gws = await withTimeout(core.listServiceForAllNamespaces({ labelSelector: NETWORK_LABEL }), timeoutMs, 'list services');
      gatewayServices = gws.items.length;
    } catch (err) {
      warnings.push(`network settings not readable: ${describe(err)}`);
    }
  }
  const expiry = tokenExpiry(kc);
  if (expiry) {
    const left = expiry.getTime() - now;
    if (left <= 0) errors.push(`token expired ${expiry.toISOString()}`);
    else if (left < EXPIRY_WARNING_MS) warnings.push(`token expires in ${Math.round(left / 3600_000)} h (${expiry.toISOString()})`);
  }
  const networkKnown = network ?? t.id;
  return {
    id: t.id,
    origin: t.origin,
    server,
    reachable,
    version,
    missingPermissions: missing,
    tokenExpiry: expiry?.toISOString() ?? null,
    network: networkKnown,
    gateways: (config.networks[networkKnown]?.gateways.length ?? 0) + gatewayServices,
    errors,
    warnings,
    networkKnown,
  };
}

function describe(err: unknown): string {
  const code = statusCode(err);
  if (code !== undefined) return `HTTP ${code}: ${(errorMessage(err).split('\n')[0] ?? '').slice(0, 300)}`;
  return errorMessageWithCauses(err);
}

/**
 * `meridian check`: the config, then every configured cluster and every remote secret in the
 * primary: reachable, API version, permissions Meridian lacks, credential expiry, network and
 * gateways. Exit 0 when nothing is wrong (warnings allowed), 1 otherwise.
 */
export async function checkCommand(values: { config?: string; output: OutputFormat; timeout: string; server?: string[]; tokenFile?: string }): Promise<number> {
  const file = values.config ?? readEnv('MERIDIAN_CONFIG');
  if (!file) throw new UsageError('--config FILE is required (or set MERIDIAN_CONFIG)');
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a positive number of milliseconds');
  const config = loadConfig(file);
  const namespace = config.namespace ?? DEFAULT_NAMESPACE;
  const targets: Target[] = [];
  for (const c of config.clusters) {
    const network = c.network === undefined ? {} : { network: c.network };
    try {
      const spec = await clusterSpecFor(c);
      targets.push(
        spec.source.type === 'kubernetes'
          ? { id: c.id, origin: spec.origin, kubeConfig: spec.source.kubeConfig, ...network }
          : { id: c.id, origin: 'config', manifests: spec.source.directory, ...network },
      );
    } catch (err) {
      targets.push({ id: c.id, origin: 'config', error: describe(err), ...network });
    }
  }
  const primary = config.clusters.find((c) => c.primary) ?? config.clusters[0];
  const primaryKc = targets.find((t) => t.id === primary?.id)?.kubeConfig;
  const secretErrors: string[] = [];
  if (primaryKc && config.remoteSecrets.enabled) {
    try {
      const core = primaryKc.makeApiClient((await kubeClient()).CoreV1Api);
      const seen = new Set<string>();
      for (const [key, value] of Object.entries(REMOTE_SECRET_LABELS)) {
        const list = await withTimeout(core.listNamespacedSecret({ namespace, labelSelector: `${key}=${value}` }), timeoutMs, 'list remote secrets');
        for (const secret of list.items) {
          const name = `${namespace}/${secret.metadata?.name ?? ''}`;
          if (seen.has(name)) continue;
          seen.add(name);
          for (const [id, data] of Object.entries(secret.data ?? {})) {
            const origin = `secret:${name}`;
            if (targets.some((t) => t.id === id)) {
              targets.push({ id, origin, error: `cluster ID ${id} is already provided by ${targets.find((t) => t.id === id)?.origin}` });
              continue;
            }
            try {
              targets.push({ id, origin, kubeConfig: await loadKubeconfigText(Buffer.from(data, 'base64').toString('utf8'), config.discovery.kubeconfigPolicy) });
            } catch (err) {
              targets.push({ id, origin, error: errorMessage(err) });
            }
          }
        }
      }
    } catch (err) {
      secretErrors.push(`remote secrets in ${namespace} not readable: ${describe(err)}`);
    }
  }
  const now = Date.now();
  // One line per cluster (and replica) as it finishes, on stderr, while the rest is checked.
  const progress = values.output === 'table' ? (what: string, status: string) => process.stderr.write(`checked ${what}: ${status}\n`) : () => undefined;
  const statusOf = (c: { errors: readonly string[]; warnings: readonly string[] }) => (c.errors.length > 0 ? 'ERROR' : c.warnings.length > 0 ? 'WARN' : 'OK');
  const [results, replicas] = await Promise.all([
    Promise.all(
      targets.map(async (t) => {
        const r = await checkTarget(t, config, namespace, timeoutMs, now);
        progress(`cluster ${t.id}`, statusOf(r));
        return r;
      }),
    ),
    checkReplicas(
      (values.server ?? []).map((server) => debugClient({ server, ...(values.tokenFile ? { tokenFile: values.tokenFile } : {}) })),
      (r) => progress(`meridian ${r.server}`, statusOf(r)),
    ),
  ]);
  // Across networks, a proxy reaches another network's endpoints only through its gateway.
  // With no gateway anywhere the mesh is flat (every network reaches every other), which is
  // fine: only a multi-network mesh, where some network has a gateway, needs one per network.
  const networks = new Set(results.map((r) => r.networkKnown));
  const multiNetwork = networks.size > 1 && results.some((r) => (r.gateways ?? 0) > 0);
  const checks: ClusterCheck[] = results.map(({ networkKnown: _n, ...r }) =>
    multiNetwork && r.gateways === 0 && r.reachable
      ? { ...r, warnings: [...r.warnings, `no east-west gateway for network ${r.network}: proxies on other networks cannot reach its endpoints`] }
      : r,
  );
  const ok = secretErrors.length === 0 && checks.every((c) => c.errors.length === 0) && replicas.every((r) => r.errors.length === 0);
  if (values.output !== 'table') {
    process.stdout.write(formatDocument({ ok, config: file, namespace, errors: secretErrors, clusters: checks, ...(replicas.length > 0 ? { replicas } : {}) }, values.output));
  } else {
    process.stdout.write(`config ${file}: valid (${config.clusters.length} configured clusters, namespace ${namespace})\n\n`);
    process.stdout.write(
      table(
        ['CLUSTER', 'ORIGIN', 'REACHABLE', 'VERSION', 'PERMISSIONS', 'TOKEN EXPIRY', 'NETWORK', 'GATEWAYS', 'STATUS'],
        checks.map((c) => [
          c.id,
          c.origin,
          c.reachable ? 'yes' : 'no',
          c.version ?? '-',
          c.missingPermissions === null ? '-' : c.missingPermissions.length === 0 ? 'ok' : `missing ${c.missingPermissions.length}`,
          c.tokenExpiry ?? '-',
          c.network ?? '-',
          String(c.gateways ?? '-'),
          c.errors.length > 0 ? 'ERROR' : c.warnings.length > 0 ? 'WARN' : 'OK',
        ]),
      ),
    );
    if (replicas.length > 0) {
      process.stdout.write('\n');
      process.stdout.write(
        table(
          ['MERIDIAN', 'REPLICA', 'VERSION', 'READY', 'REGISTRY DIGEST', 'CA NOT AFTER', 'STATUS'],
          replicas.map((r) => [r.server, r.replica ?? '-', r.version ?? '-', r.ready === null ? '-' : r.ready ? 'yes' : 'no', r.digest?.slice(0, 12) ?? '-', r.caNotAfter ?? '-', statusOf(r)]),
        ),
      );
    }
    const notes = [
      ...secretErrors.map((e) => `error: ${e}`),
      ...checks.flatMap((c) => [...c.errors.map((e) => `${c.id}: error: ${e}`), ...c.warnings.map((w) => `${c.id}: warning: ${w}`)]),
      ...replicas.flatMap((r) => [...r.errors.map((e) => `${r.server}: error: ${e}`), ...r.warnings.map((w) => `${r.server}: warning: ${w}`)]),
    ];
    if (notes.length > 0) process.stdout.write(`\n${notes.join('\n')}\n`);
    process.stdout.write(`\n${ok ? 'all checks passed' : 'some checks failed'}\n`);
  }
  return ok ? 0 : 1;
}

interface SynczBody {
  proxies: Array<{
    node: string;
    type: string;
    cluster: string;
    connectedAt: string | null;
    types: Record<string, { synced: boolean; subscribed: string[] | '*'; sent: { version: string | null }; acked: { version: string | null }; lastNack: { message?: string } | null }>;
  }>;
}
interface ClusterzBody {
  clusters: Array<{
    id: string;
    state: string;
    origin: string;
    network: string;
    objects: Record<string, number>;
    lastError: { message: string } | null;
    missingPermissions: string[] | null;
    source?: {
      directory?: string;
      files?: Array<{ file: string; error?: { document: number; reason: string } }>;
      informers?: Array<{ name: string; lastError: string | null }>;
    };
  }>;
}

/** The first NACK text of a proxy's types, `TYPE: message` (cut to a line), for the table. */
function lastNack(p: SynczBody['proxies'][number]): string {
  for (const t of SYNC_TYPES) {
    const message = p.types[t]?.lastNack?.message;
    if (message && syncState(p.types[t]) !== 'SYNCED') return `${t}: ${message.split('\n')[0]?.slice(0, 120)}`;
  }
  return '-';
}

/**
 * What is wrong with a cluster, most telling first: its error, a watch that fails (the API
 * server unreachable, a 403), a broken manifest, missing permissions.
 */
function clusterError(c: ClusterzBody['clusters'][number]): string {
  if (c.state !== 'Synced' && c.lastError?.message) return c.lastError.message;
  const failing = c.source?.informers?.find((i) => i.lastError !== null);
  if (c.state !== 'Synced' && failing) return `${failing.name}: ${failing.lastError}`;
  const broken = c.source?.files?.find((f) => f.error);
  if (broken?.error) {
    const file = c.source?.directory ? path.relative(c.source.directory, broken.file) : broken.file;
    return `${file}: document ${broken.error.document}: ${broken.error.reason}`;
  }
  if (c.missingPermissions && c.missingPermissions.length > 0) return `missing ${c.missingPermissions.join(', ')}`;
  return '-';
}

const SYNC_TYPES = ['LDS', 'RDS', 'CDS', 'EDS', 'SDS'] as const;

/** One type's sync state as shown in `meridian status`. */
export function syncState(t: SynczBody['proxies'][number]['types'][string] | undefined): string {
  if (!t) return '-';
  if (t.lastNack && t.sent.version !== t.acked.version) return 'NACKED';
  if (t.synced) return 'SYNCED';
  return t.sent.version === null ? 'WAITING' : 'STALE';
}

/** `meridian status`: connected proxies with their sync state per type, and clusters with their state. */
/** One replica's view: what `status` shows of it, or why it could not be read. */
interface ReplicaStatus {
  readonly server: string;
  readonly sync?: SynczBody;
  readonly clusters?: ClusterzBody;
  readonly error?: string;
}

async function replicaStatus(reader: DebugReader): Promise<ReplicaStatus> {
  const { base, get } = reader;
  try {
    const [sync, clusters] = await Promise.all([get<SynczBody>('/debug/syncz'), get<ClusterzBody>('/debug/clusterz')]);
    return { server: base, sync, clusters };
  } catch (err) {
    return { server: base, error: `cannot read Meridian's status from ${base}: ${errorMessage(err)}` };
  }
}

/**
 * `meridian status`: proxies and clusters as one replica sees them, or, with `--server` given
 * once per replica, every replica's view side by side, with the replicas compared (version,
 * readiness, registry digest) and those that disagree flagged. Exit 1 when a replica cannot
 * be read or replicas disagree.
 */
export async function statusCommand(values: {
  server: string[];
  tokenFile?: string;
  kubeconfig?: string;
  context?: string;
  namespace: string;
  selector: string;
  port: string;
  output: OutputFormat;
}): Promise<number> {
  if (values.kubeconfig && values.server.length > 0) throw new UsageError('give --kubeconfig or --server, not both');
  const readers = values.kubeconfig
    ? await kubeReplicaReaders({ kubeconfig: values.kubeconfig, ...(values.context ? { context: values.context } : {}), namespace: values.namespace, selector: values.selector, port: Number(values.port) })
    : (values.server.length > 0 ? values.server : ['http://localhost:15014']).map((server) => debugClient({ server, ...(values.tokenFile ? { tokenFile: values.tokenFile } : {}) }));
  const statuses = await Promise.all(readers.map(replicaStatus));
  const several = readers.length > 1;
  const replicas = several ? await checkReplicas(readers) : [];
  const problems = [...statuses.flatMap((r) => (r.error ? [r.error] : [])), ...replicas.flatMap((r) => r.errors.filter((e) => e.startsWith('replicas disagree')).map((e) => `${r.server}: ${e}`))];
  const read = statuses.filter((r): r is ReplicaStatus & { sync: SynczBody; clusters: ClusterzBody } => r.sync !== undefined && r.clusters !== undefined);
  if (read.length === 0) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    return 1;
  }
  const replicaOf = (r: ReplicaStatus) => replicas.find((c) => c.server === r.server)?.replica ?? r.server;
  if (values.output !== 'table') {
    const proxies = read.flatMap((r) =>
      r.sync.proxies.map((p) => ({
        ...(several ? { replica: replicaOf(r) } : {}),
        node: p.node,
        cluster: p.cluster,
        type: p.type,
        connectedAt: p.connectedAt,
        sync: Object.fromEntries(SYNC_TYPES.map((t) => [t, syncState(p.types[t])])),
        lastNack: lastNack(p) === '-' ? null : lastNack(p),
      })),
    );
    const clusterRows = read.flatMap((r) =>
      r.clusters.clusters.map((c) => ({ ...(several ? { replica: replicaOf(r) } : {}), id: c.id, state: c.state, origin: c.origin, network: c.network, lastError: clusterError(c) === '-' ? null : clusterError(c) })),
    );
    const replicaRows = replicas.map((c) => ({ server: c.server, replica: c.replica, version: c.version, ready: c.ready, digest: c.digest, errors: c.errors }));
    process.stdout.write(formatDocument({ ...(several ? { replicas: replicaRows } : {}), proxies, clusters: clusterRows, problems }, values.output));
    return problems.length > 0 ? 1 : 0;
  }
  const replicaColumn = (r: ReplicaStatus) => (several ? [replicaOf(r)] : []);
  const head = several ? ['REPLICA'] : [];
  if (several) {
    process.stdout.write(`REPLICAS (${replicas.length})\n`);
    process.stdout.write(
      table(
        ['SERVER', 'REPLICA', 'VERSION', 'READY', 'REGISTRY DIGEST', 'PROBLEMS'],
        replicas.map((c) => [c.server, c.replica ?? '-', c.version ?? '-', c.ready === null ? '-' : String(c.ready), c.digest ?? '-', c.errors.join('; ') || '-']),
      ),
    );
    process.stdout.write('\n');
  }
  const proxies = read.flatMap((r) => r.sync.proxies.map((p) => ({ r, p })));
  process.stdout.write(`PROXIES (${proxies.length})\n`);
  process.stdout.write(
    table(
      [...head, 'NODE', 'CLUSTER', 'TYPE', 'CONNECTED', ...SYNC_TYPES, 'LAST NACK'],
      proxies.map(({ r, p }) => [...replicaColumn(r), p.node, p.cluster, p.type, p.connectedAt ?? '-', ...SYNC_TYPES.map((t) => syncState(p.types[t])), lastNack(p)]),
    ),
  );
  const clusters = read.flatMap((r) => r.clusters.clusters.map((c) => ({ r, c })));
  process.stdout.write(`\nCLUSTERS (${several ? `${clusters.length} rows, ${read.length} replicas` : clusters.length})\n`);
  process.stdout.write(
    table(
      [...head, 'CLUSTER', 'STATE', 'NETWORK', 'ORIGIN', 'SERVICES', 'ENDPOINTSLICES', 'LAST ERROR'],
      clusters.map(({ r, c }) => [...replicaColumn(r), c.id, c.state, c.network, c.origin, String(c.objects['services'] ?? 0), String(c.objects['endpointSlices'] ?? 0), clusterError(c)]),
    ),
  );
  for (const p of problems) process.stderr.write(`${p}\n`);
  return problems.length > 0 ? 1 : 0;
}

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A machine-readable document in the format `-o` asked for. */
export function formatDocument(doc: unknown, format: Exclude<OutputFormat, 'table'>): string {
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc);
}

/** Columns padded to their widest cell, like kubectl's. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** client-node is loaded by the commands that talk to clusters; `status` never needs it. */
function kubeClient(): Promise<typeof KubeClient> {
  return import('@kubernetes/client-node');
}
