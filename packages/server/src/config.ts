/**
 * Meridian's configuration: the YAML file, validated with zod, plus the few environment
 * variables below. This is the only module that reads the environment or config files;
 * everything else is handed what it needs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Environment variables, each with its default and what it is for (Istio's env.Register idea). */
export const ENV = {
  MERIDIAN_CONFIG: { default: '', description: 'Config file used when `serve` gets no --config.' },
  MERIDIAN_LOG_LEVEL: { default: '', description: 'Overrides log.level (trace, debug, info, warn, error).' },
  POD_NAMESPACE: { default: '', description: "Meridian's namespace when `namespace` is not set (the Downward API sets it)." },
  MERIDIAN_CLUSTER_ID: { default: 'primary', description: 'ID of the in-cluster primary when no cluster is marked primary.' },
  KUBERNETES_SERVICE_HOST: { default: '', description: 'Set by Kubernetes in every pod: Meridian runs in a cluster.' },
  MERIDIAN_DEBUG_TOKEN: { default: '', description: "CLI: bearer token for Meridian's /debug endpoints when not on localhost (or --token-file)." },
} as const;

/** Where Kubernetes mounts a pod's service-account token: with the env above, "in a cluster". */
const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function readEnv(name: keyof typeof ENV, env: NodeJS.ProcessEnv = process.env): string {
  return env[name] ?? ENV[name].default;
}

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:15010')
  // `!(n > max)`: a value without a numeric port is already reported by the regex above.
  .refine((v) => !(Number(v.slice(v.lastIndexOf(':') + 1)) > 65535), 'port must be at most 65535');

const dnsLabelish = z
  .string()
  .min(1)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'lowercase letters, digits, "-" and "."');

const clusterSchema = z
  .strictObject({
    id: dnsLabelish.describe('Cluster ID: unique, used in node metadata CLUSTER_ID'),
    network: z.string().min(1).optional().describe('Network of the cluster; defaults to the cluster ID'),
    manifests: z.string().min(1).optional().describe('Directory of Kubernetes YAML describing the cluster'),
    kubeconfig: z.string().min(1).optional().describe('Kubeconfig file of the cluster (or "in-cluster")'),
    context: z.string().min(1).optional().describe('Context in the kubeconfig; default its current context'),
    primary: z.boolean().default(false).describe('The cluster Meridian runs in: remote secrets are read from it'),
  })
  .superRefine((c, ctx) => {
    const sources = [c.manifests, c.kubeconfig].filter((v) => v !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of manifests or kubeconfig is required', path: ['manifests'] });
    if (c.context && !c.kubeconfig) ctx.addIssue({ code: 'custom', message: 'context needs kubeconfig', path: ['context'] });
  });

const gatewaySchema = z.strictObject({
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(15443),
});

export const configSchema = z.strictObject({
  trustDomain: dnsLabelish.default('cluster.local'),
  /**
   * Trust domains whose identities AuthorizationPolicy's `namespaces` (and `source.namespace`)
   * treat as the local one's. Empty by default: a federated identity is allowed only where a
   * policy names its principal, trust domain included.
   */
  trustDomainAliases: z.array(dnsLabelish).default([]),
  domainSuffix: dnsLabelish.default('cluster.local'),
  listen: z
    .strictObject({
      xds: hostPort.default('0.0.0.0:15010'),
      xdsTls: hostPort.default('0.0.0.0:15012'),
      http: hostPort.default('0.0.0.0:15014'),
    })
    .prefault({}),
  http: z
    .strictObject({
      /**
       * A file holding the bearer token that callers other than localhost must present for
       * /debug/* and the status page (a Kubernetes Secret volume); re-read when it changes.
       * Without it those answer localhost only. /healthz, /readyz and /metrics stay open.
       */
      debugTokenFile: z.string().min(1).optional(),
    })
    .prefault({}),
  ca: z
    .strictObject({
      /** Where a self-signed root (and the local token issuer's key) is created and kept. */
      dir: z.string().min(1).default('.meridian/ca'),
      /** A plugged-in CA in Istio's cacerts layout; reloaded when its files change. */
      cacerts: z.string().min(1).optional(),
      /**
       * The self-signed CA and the local issuer's key kept in a Secret (`name`, in `namespace`) of the
       * primary cluster instead of `dir`, so every replica shares one root. Created once, never
       * overwritten. Default: on when the primary has a kubeconfig (in-cluster too) and no `cacerts`.
       */
      secret: z.strictObject({ enabled: z.boolean().optional(), name: dnsLabelish.default('meridian-ca') }).prefault({}),
      keyAlgorithm: z.enum(['ECDSA_P256', 'ECDSA_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096']).default('ECDSA_P256'),
      defaultTtlSeconds: z.number().int().min(60).default(86_400),
      maxTtlSeconds: z.number().int().min(60).default(604_800),
      /** Token audiences the certificate service accepts. */
      audiences: z.array(z.string().min(1)).min(1).default(['istio-ca']),
      /** DNS names of the serving certificate on listen.xdsTls; default meridian.<namespace>.svc and localhost. */
      servingDnsNames: z.array(z.string().min(1)).optional(),
      /** Also serve the certificate API on the plaintext port (off: tokens would cross in clear). */
      plaintext: z.boolean().default(false),
      rateLimit: z
        .union([z.literal(false), z.strictObject({ refill: z.number().int().min(1), intervalMs: z.number().int().min(1), burst: z.number().int().min(1) })])
        .default({ refill: 10, intervalMs: 10_000, burst: 20 }),
      /** A JWT issuer of Meridian's own (`meridian token`), for workloads outside Kubernetes and the embedded default. */
      localIssuer: z
        .strictObject({ enabled: z.boolean().default(true), issuer: z.string().min(1).default('https://meridian.local') })
        .prefault({}),
      jwtIssuers: z
        .array(z.strictObject({ issuer: z.string().min(1), jwksFile: z.string().min(1), audiences: z.array(z.string()).optional(), cluster: z.string().optional() }))
        .default([]),
    })
    .prefault({}),
  /** Other trust domains whose SPIFFE bundles (https_web profile) Meridian fetches and keeps, separately. */
  federation: z
    .array(
      z.strictObject({
        trustDomain: dnsLabelish,
        bundleEndpoint: z.string().url().startsWith('https://', 'the https_web profile needs an https:// URL'),
        /** Extra CA (PEM file) to verify the bundle endpoint's certificate: private PKI, tests. */
        caFile: z.string().min(1).optional(),
        refreshHintSeconds: z.number().int().min(1).optional(),
      }),
    )
    .default([]),
  mtls: z
    .strictObject({
      mode: z.enum(['disable', 'strict']).default('disable'),
      /** Per-service overrides by hostname. */
      services: z.record(z.string().min(1), z.enum(['disable', 'strict'])).default({}),
    })
    .prefault({}),
  debounce: z
    .strictObject({
      quietMs: z.number().int().min(0).max(60_000).default(100),
      maxMs: z.number().int().min(0).max(600_000).default(1000),
    })
    .prefault({})
    .refine((d) => d.maxMs >= d.quietMs, { message: 'maxMs must be at least quietMs', path: ['maxMs'] }),
  clusterLocalHosts: z
    .array(z.string().min(1))
    .default(['*.kube-system.svc.cluster.local', 'kubernetes.default.svc.cluster.local']),
  clusters: z.array(clusterSchema).default([]),
  /** Meridian's own namespace: remote secrets live here; its network label names a cluster's network. */
  namespace: dnsLabelish.optional(),
  remoteSecrets: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  discovery: z
    .strictObject({
      staleAfterMs: z.number().int().min(0).default(300_000),
      readinessTimeoutMs: z.number().int().min(0).default(30_000),
      backoff: z
        .strictObject({ initialMs: z.number().int().min(1).default(1000), maxMs: z.number().int().min(1).default(30_000) })
        .prefault({}),
      /** What kubeconfigs from remote secrets may use; all off by default (see README). */
      kubeconfigPolicy: z
        .strictObject({
          allowExec: z.boolean().default(false),
          allowAuthProviders: z.boolean().default(false),
          allowFileReferences: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  networks: z.record(z.string().min(1), z.strictObject({ gateways: z.array(gatewaySchema).default([]) })).default({}),
  /** Whose Kubernetes API policy CRDs are read from; manifest directories are always read. */
  policy: z
    .strictObject({
      sources: z.union([z.enum(['primary', 'all']), z.array(z.string().min(1)).min(1)]).default('all'),
      /** How often sidecars under a dry-run AuthorizationPolicy are read for its counts (their port 15090); 0: never. */
      dryRunReadIntervalMs: z.number().int().min(0).default(30_000),
    })
    .prefault({}),
  /** What Telemetry resources name (Istio's MeshConfig extensionProviders), and the mesh defaults. */
  telemetry: z
    .strictObject({
      providers: z
        .record(
          z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a lowercase name'),
          z.union([
            z.strictObject({
              envoyFileAccessLog: z.strictObject({
                path: z.string().min(1).default('/dev/stdout'),
                format: z.enum(['json', 'text']).default('json'),
              }),
            }),
            z.strictObject({
              /** An OTLP/gRPC trace collector: a mesh service's hostname, another host name, or an IP. */
              opentelemetry: z.strictObject({ service: z.string().min(1), port: z.number().int().min(1).max(65535) }),
            }),
          ]),
        )
        .default({}),
      /** Providers every workload logs to when no Telemetry resource says otherwise. */
      accessLogging: z.array(z.string().min(1)).default([]),
      /** The tracing provider every workload reports to when no Telemetry says otherwise. */
      tracing: z.strictObject({ provider: z.string().min(1).optional(), randomSamplingPercentage: z.number().min(0).max(100).default(1) }).prefault({}),
    })
    .prefault({})
    .superRefine((t, ctx) => {
      const kind = (name: string) => {
        const p = t.providers[name];
        return p === undefined ? undefined : 'envoyFileAccessLog' in p ? 'log' : 'trace';
      };
      // An opentelemetry provider takes access logs too (its collector's OTLP logs service).
      t.accessLogging.forEach((name, i) => {
        if (kind(name) === undefined) ctx.addIssue({ code: 'custom', message: `no provider ${name} in telemetry.providers`, path: ['accessLogging', i] });
      });
      if (t.tracing.provider !== undefined && kind(t.tracing.provider) !== 'trace') {
        ctx.addIssue({ code: 'custom', message: `no opentelemetry provider ${t.tracing.provider} in telemetry.providers`, path: ['tracing', 'provider'] });
      }
    }),
  log: z
    .strictObject({
      /** Changeable at run time: `PUT /debug/loglevel?level=`, or edit it and send SIGHUP. */
      level: z.enum(LOG_LEVELS).default('info'),
      /** `auto`: readable text when stdout is a terminal, JSON lines otherwise (a container). */
      format: z.enum(['auto', 'json', 'text']).default('auto'),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      graceMs: z.number().int().min(0).max(300_000).default(5000),
      /** On SIGTERM, proxies are told to reconnect elsewhere at random moments within this period. */
      drainMs: z.number().int().min(0).max(300_000).default(5000),
    })
    .prefault({}),
});

export type MeridianConfig = z.infer<typeof configSchema>;
export type ClusterConfig = MeridianConfig['clusters'][number];

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(`invalid config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Duplicate ids and missing directories or files, on the typed config or (when it is invalid) the raw one. */
function clusterProblems(clusters: readonly unknown[], baseDir: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  clusters.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object') return;
    const c = entry as { id?: unknown; manifests?: unknown; kubeconfig?: unknown };
    if (typeof c.id === 'string') {
      const first = seen.get(c.id);
      if (first !== undefined) problems.push(`clusters[${i}].id: duplicate cluster id "${c.id}" (also clusters[${first}])`);
      else seen.set(c.id, i);
    }
    if (typeof c.manifests === 'string') {
      const dir = path.resolve(baseDir, c.manifests);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) problems.push(`clusters[${i}].manifests: not a directory: ${dir}`);
    }
    if (typeof c.kubeconfig === 'string' && c.kubeconfig !== 'in-cluster') {
      const kubeconfig = path.resolve(baseDir, c.kubeconfig);
      if (!existsSync(kubeconfig)) problems.push(`clusters[${i}].kubeconfig: no such file: ${kubeconfig}`);
    }
  });
  return problems;
}

/** `; did you mean "clusters"?` for a misspelt key, from the keys the schema knows at that place. */
function suggestionFor(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys') return '';
  const known = keysAt(configSchema, issue.path);
  const hints = issue.keys.flatMap((key) => {
    const best = closest(key, known);
    return best ? [issue.keys.length === 1 ? `"${best}"` : `"${best}" for "${key}"`] : [];
  });
  return hints.length ? `; did you mean ${hints.join(', ')}?` : '';
}

/** The object keys a schema accepts at `at` (through arrays, optionals, defaults and refinements). */
function keysAt(schema: z.ZodType, at: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    for (let i = 0; i < 10; i++) {
      const def = (s as { _zod?: { def?: { innerType?: unknown; in?: unknown; element?: unknown } } })._zod?.def;
      const next = def?.innerType ?? def?.in;
      if (!next) return s;
      s = next;
    }
    return s;
  };
  for (const step of at) {
    current = unwrap(current);
    const def = (current as { _zod?: { def?: { shape?: Record<string, unknown>; element?: unknown; valueType?: unknown } } })._zod?.def;
    if (typeof step === 'number') current = def?.element;
    else current = def?.shape?.[String(step)] ?? def?.valueType;
    if (!current) return [];
  }
  const shape = (unwrap(current) as { _zod?: { def?: { shape?: Record<string, unknown> } } })._zod?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

/** The known key within edit distance 2 (and less than half the key's length) of `key`. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d <= 2 && d < Math.max(2, key.length / 2) && (!best || d < best.distance)) best = { key: k, distance: d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length] ?? 0;
}

function formatPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

/** Parses and validates a config document; relative paths resolve against `baseDir`. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): MeridianConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(file, [`(file): not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`]);
  }
  const result = configSchema.safeParse(raw);
  const baseDir = path.dirname(path.resolve(file));
  if (!result.success) {
    // Every problem in one pass: the schema's, with a suggestion for a misspelt key, and
    // the cluster checks that still make sense on the raw document.
    const schema = result.error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}${suggestionFor(i)}`);
    const clusters = (raw as { clusters?: unknown }).clusters;
    // A cluster entry the schema already faults is not checked further: its shape is in doubt.
    const faulted = new Set(result.error.issues.filter((i) => i.path[0] === 'clusters').map((i) => i.path[1]));
    const checkable = Array.isArray(clusters) ? clusters.map((c, i) => (faulted.has(i) ? undefined : c)) : [];
    throw new ConfigError(file, [...schema, ...clusterProblems(checkable, baseDir)]);
  }
  const config = result.data;
  const problems: string[] = clusterProblems(config.clusters, baseDir);
  for (const c of config.clusters) {
    if (c.manifests !== undefined) c.manifests = path.resolve(baseDir, c.manifests);
    if (c.kubeconfig !== undefined && c.kubeconfig !== 'in-cluster') c.kubeconfig = path.resolve(baseDir, c.kubeconfig);
  }
  config.ca.dir = path.resolve(baseDir, config.ca.dir);
  if (config.http.debugTokenFile !== undefined) {
    config.http.debugTokenFile = path.resolve(baseDir, config.http.debugTokenFile);
    const problem = tokenFileProblem(config.http.debugTokenFile);
    if (problem) problems.push(`http.debugTokenFile: ${problem}`);
  }
  if (config.ca.cacerts !== undefined) {
    config.ca.cacerts = path.resolve(baseDir, config.ca.cacerts);
    if (!existsSync(config.ca.cacerts)) problems.push(`ca.cacerts: not a directory: ${config.ca.cacerts}`);
  }
  config.ca.jwtIssuers.forEach((j, i) => {
    j.jwksFile = path.resolve(baseDir, j.jwksFile);
    if (!existsSync(j.jwksFile)) problems.push(`ca.jwtIssuers[${i}].jwksFile: no such file: ${j.jwksFile}`);
  });
  config.federation.forEach((f, i) => {
    if (f.caFile === undefined) return;
    f.caFile = path.resolve(baseDir, f.caFile);
    if (!existsSync(f.caFile)) problems.push(`federation[${i}].caFile: no such file: ${f.caFile}`);
  });
  if (config.ca.maxTtlSeconds < config.ca.defaultTtlSeconds) problems.push('ca.maxTtlSeconds: must be at least ca.defaultTtlSeconds');
  const primaries = config.clusters.flatMap((c, i) => (c.primary ? [i] : []));
  if (primaries.length > 1) problems.push(`clusters[${primaries[1]}].primary: only one cluster can be primary (also clusters[${primaries[0]}])`);
  const inCluster = readEnv('KUBERNETES_SERVICE_HOST', env) !== '' && existsSync(IN_CLUSTER_TOKEN);
  if (primaries.length === 0 && inCluster) {
    // Inside Kubernetes with no primary configured, the cluster Meridian runs in is the primary.
    config.clusters.unshift({ id: readEnv('MERIDIAN_CLUSTER_ID', env), kubeconfig: 'in-cluster', primary: true });
  }
  if (config.clusters.length === 0) problems.push('clusters: at least one cluster is required (or run inside Kubernetes)');
  config.namespace ??= readEnv('POD_NAMESPACE', env) || 'meridian-system';
  const kubePrimary = (config.clusters.find((c) => c.primary) ?? config.clusters[0])?.kubeconfig !== undefined;
  if (config.ca.secret.enabled === true && config.ca.cacerts !== undefined) problems.push('ca.secret.enabled: cannot be used with ca.cacerts (a plugged-in CA is not Meridian\'s to store)');
  if (config.ca.secret.enabled === true && !kubePrimary) problems.push('ca.secret.enabled: needs a primary cluster with a kubeconfig (or in-cluster)');
  config.ca.secret.enabled ??= kubePrimary && config.ca.cacerts === undefined;
  if (problems.length > 0) throw new ConfigError(file, problems);
  const level = readEnv('MERIDIAN_LOG_LEVEL', env);
  if (level) {
    const parsed = configSchema.shape.log.unwrap().shape.level.safeParse(level);
    if (!parsed.success) {
      throw new ConfigError(file, [`MERIDIAN_LOG_LEVEL: ${parsed.error.issues[0]?.message ?? 'invalid log level'}`]);
    }
    config.log.level = parsed.data;
  }
  return config;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): MeridianConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`(file): cannot read: ${err instanceof Error ? err.message : String(err)}`]);
  }
  return parseConfig(text, file, env);
}

function readToken(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

function tokenFileProblem(file: string): string | undefined {
  try {
    return readToken(file) === '' ? `empty file: ${file}` : undefined;
  } catch (err) {
    return `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * The debug token, read again whenever its file changes (a Secret volume swaps a symlink when
 * the Secret is updated). Undefined while the file is missing or empty: then only localhost
 * is let in, never everyone.
 */
export function debugTokenReader(file: string): () => string | undefined {
  let seen = '';
  let token: string | undefined;
  return () => {
    try {
      const st = statSync(file);
      const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (key !== seen) {
        token = readToken(file) || undefined;
        seen = key;
      }
    } catch {
      seen = '';
      token = undefined;
    }
    return token;
  };
}

/** The CLI's debug token: `--token-file`, else MERIDIAN_DEBUG_TOKEN, else none (localhost). */
export function cliDebugToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (tokenFile !== undefined) {
    const problem = tokenFileProblem(tokenFile);
    if (problem) throw new ConfigError('--token-file', [problem]);
    return readToken(tokenFile);
  }
  return readEnv('MERIDIAN_DEBUG_TOKEN', env) || undefined;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}
