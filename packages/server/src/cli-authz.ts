import { compileMeshPolicies } from '@meridian/policy';
import { silentLogger } from '@meridian/model';
import { MeshResources } from '@meridian/xds';
import { withMeshRead } from './analyze.ts';
import { AccessQueryError, explainAccess, parseHeaderLines, type AccessExplanation, type AccessQuery } from './authz-explain.ts';
import { UsageError } from './cli-ca.ts';
import { formatDocument, table, type OutputFormat } from './cli-ops.ts';
import { loadConfig, readEnv } from './config.ts';
import { debugClient } from './debug-client.ts';
import { meshPolicyOptions, meshResourceSettings } from './mesh-settings.ts';

export interface AuthzCheckOptions {
  readonly from?: string;
  readonly to?: string;
  readonly method?: string;
  readonly path?: string;
  readonly header?: readonly string[];
  readonly requestPrincipal?: string;
  readonly config?: string;
  readonly server?: string;
  readonly tokenFile?: string;
  readonly timeout: string;
  readonly output: OutputFormat;
}

/**
 * `meridian authz check`: may `--from` call `--to`, and which rule decides, for every group of
 * the service's endpoints. Offline from a config (every cluster read as `serve` reads it), or
 * from a running Meridian's /debug/authz. Exit 0 when every endpoint admits the caller, 1
 * otherwise.
 */
export async function authzCheckCommand(values: AuthzCheckOptions): Promise<number> {
  if (!values.from) throw new UsageError('--from is required: a SPIFFE ID, <trust-domain>/ns/<ns>/sa/<sa>, a pod as <name>.<namespace>, or a pod IP');
  if (!values.to) throw new UsageError('--to is required: <name>.<namespace>[:port] or a hostname[:port]');
  let headers: Record<string, string> | undefined;
  try {
    headers = values.header?.length ? parseHeaderLines(values.header.join('\n')) : undefined;
  } catch (err) {
    throw new UsageError(`--header ${(err as Error).message}`);
  }
  const query: AccessQuery = {
    from: values.from,
    to: values.to,
    ...(values.method ? { method: values.method.toUpperCase() } : {}),
    ...(values.path ? { path: values.path } : {}),
    ...(headers ? { headers } : {}),
    ...(values.requestPrincipal ? { requestPrincipal: values.requestPrincipal } : {}),
  };
  const explanation = values.server ? await askServer(values.server, values.tokenFile, query) : await explainOffline(values, query);
  process.stdout.write(values.output === 'table' ? explanationTable(explanation) : formatDocument(explanation, values.output));
  return explanation.verdict === 'all' ? 0 : 1;
}

async function askServer(server: string, tokenFile: string | undefined, query: AccessQuery): Promise<AccessExplanation> {
  const params = new URLSearchParams({ from: query.from, to: query.to });
  if (query.method) params.set('method', query.method);
  if (query.path) params.set('path', query.path);
  if (query.headers) params.set('headers', Object.entries(query.headers).map(([k, v]) => `${k}:${v}`).join('\n'));
  if (query.requestPrincipal) params.set('requestPrincipal', query.requestPrincipal);
  return debugClient({ server, ...(tokenFile ? { tokenFile } : {}) }).get<AccessExplanation>(`/debug/authz?${params}`);
}

async function explainOffline(values: AuthzCheckOptions, query: AccessQuery): Promise<AccessExplanation> {
  const file = values.config ?? readEnv('MERIDIAN_CONFIG');
  if (!file) throw new UsageError('--config FILE or --server ADDRESS is required (or set MERIDIAN_CONFIG)');
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a positive number of milliseconds');
  const config = loadConfig(file);
  return withMeshRead(config, silentLogger(), timeoutMs, ({ registry, store, failures }) => {
    // An unread cluster may hold the policy that decides: say so, and still answer with the rest.
    for (const f of failures) process.stderr.write(`warning: cluster ${f.cluster}${f.origin ? ` (${f.origin})` : ''}: ${f.message}; the answer leaves it out\n`);
    const compiled = compileMeshPolicies(store.objects(), meshPolicyOptions(config));
    const resources = new MeshResources({ ...meshResourceSettings(config), discovery: registry, policies: () => compiled.policies });
    try {
      return explainAccess(resources.snap(), query);
    } catch (err) {
      if (err instanceof AccessQueryError) throw new UsageError(`--${err.field}: ${err.message}`);
      throw err;
    }
  });
}

function explanationTable(e: AccessExplanation): string {
  const who = e.from.workload ? `${e.from.principal} (pod ${e.from.workload.pod} in ${e.from.workload.cluster})` : e.from.principal;
  const verdict = { all: 'ALLOWED by every endpoint', none: 'DENIED by every endpoint', some: 'ALLOWED by some endpoints only', 'no-endpoints': 'no endpoint serves this port' }[e.verdict];
  const head = `from:    ${who}\nto:      ${e.to.service}:${e.to.port} (${e.to.protocol})\nverdict: ${verdict}\n`;
  if (e.workloads.length === 0) return head;
  const rows = e.workloads.map((w) => [
    w.cluster,
    w.endpoints.join(','),
    w.mtls,
    w.allowed ? 'ALLOW' : 'DENY',
    w.decidedBy ? `${w.decidedBy.action} ${w.decidedBy.policy} rule ${w.decidedBy.rule}` : '-',
    w.wouldMatch.length ? `${w.reason}; would also match: ${w.wouldMatch.map((m) => `${m.action} ${m.policy}`).join(', ')}` : w.reason,
  ]);
  return `${head}\n${table(['CLUSTER', 'ENDPOINTS', 'MTLS', 'DECISION', 'RULE', 'REASON'], rows)}`;
}
