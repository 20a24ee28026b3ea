/** The daemon and its local helpers: `meridian serve`, `validate`, `bootstrap`, `version`. */
import path from 'node:path';
import { hostname } from 'node:os';
import { createLogger, errorMessage, type Logger } from '@meridian/model';
import { checkManifestDirectory } from '@meridian/discovery';
import { PolicyState, PolicyStore } from '@meridian/policy';
import { stringify as toYaml } from 'yaml';
import { envoyBootstrap, grpcBootstrap } from './bootstrap.ts';
import { UsageError } from './cli-ca.ts';
import { formatDocument, table, type OutputFormat } from './cli-ops.ts';
import { loadConfig, readEnv, type MeridianConfig } from './config.ts';
import { debugClient } from './debug-client.ts';
import { changeLogLevel, resolveLogFormat, textLogStream } from './logging.ts';
import { startMeridian } from './meridian.ts';
import { MERIDIAN_VERSION } from './version.ts';

function configPath(values: { config?: string }): string {
  const file = values.config ?? readEnv('MERIDIAN_CONFIG');
  if (!file) throw new UsageError('--config FILE is required (or set MERIDIAN_CONFIG)');
  return file;
}

export async function serveCommand(values: { config?: string }): Promise<number> {
  const file = configPath(values);
  const config = loadConfig(file);
  const format = resolveLogFormat(config.log.format, process.stdout.isTTY === true);
  const logger = createLogger({
    level: config.log.level,
    ...(format === 'text' ? { destination: textLogStream({ colorize: process.stdout.isTTY === true }) } : {}),
  });
  // Before starting: a SIGHUP with no listener would end the process.
  const onHangup = () => reloadLogLevel(file, config, logger);
  process.on('SIGHUP', onHangup);
  const meridian = await startMeridian(config, logger);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'signal received');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  process.off('SIGHUP', onHangup);
  await meridian.stop();
  return 0;
}

/**
 * SIGHUP: the config file is read again and its `log.level` applied. Nothing else changes
 * while running; keys that differ from the running config are named so nobody thinks they did.
 */
function reloadLogLevel(file: string, running: MeridianConfig, logger: Logger): void {
  let next: MeridianConfig;
  try {
    next = loadConfig(file);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'SIGHUP: config not re-read; keeping the running log level');
    return;
  }
  changeLogLevel(logger, next.log.level);
  const needRestart = (Object.keys(next) as Array<keyof MeridianConfig>).filter((k) => k !== 'log' && JSON.stringify(next[k]) !== JSON.stringify(running[k]));
  logger.info({ logLevel: next.log.level, ...(needRestart.length > 0 ? { needRestart } : {}) }, 'SIGHUP: log level applied from the config');
}

/**
 * Everything `serve` would refuse or report, in one pass: the config file, then each
 * cluster's manifest directory (files that cannot be read or parsed) and the policy objects
 * in it (each checked on its own, with the field at fault).
 */
export async function validateCommand(values: { config?: string }): Promise<number> {
  const file = configPath(values);
  const config = loadConfig(file);
  const problems: string[] = [];
  const policy = new PolicyStore();
  let policies = 0;
  for (const cluster of config.clusters) {
    if (cluster.manifests === undefined) continue;
    const check = await checkManifestDirectory(cluster.manifests);
    problems.push(...check.problems.map((p) => `clusters[${cluster.id}] ${p}`));
    policy.replace(cluster.id, check.config);
    policies += check.config.length;
  }
  for (const status of policy.statuses()) {
    if (status.state !== PolicyState.Rejected) continue;
    for (const error of status.errors) problems.push(`clusters[${status.cluster}] ${status.origin}: ${error}`);
  }
  if (problems.length > 0) {
    process.stderr.write(`${file}: the config is valid, but its manifests are not:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write(`${file}: valid (${config.clusters.length} clusters${policies ? `, ${policies} policy objects` : ''})\n`);
  return 0;
}

export function bootstrapCommand(values: {
  nodeId?: string;
  cluster?: string;
  locality?: string;
  namespace?: string;
  network?: string;
  server?: string;
  certDir?: string;
  envoy: boolean;
  tls: boolean;
  serverName?: string;
  serviceAccount?: string;
  label?: string[];
}): number {
  const nodeId = values.nodeId;
  if (!nodeId) throw new UsageError('--node-id is required');
  const common = {
    nodeId,
    ...(values.cluster ? { cluster: values.cluster } : {}),
    ...(values.locality ? { locality: values.locality } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.network ? { network: values.network } : {}),
  };
  // Absolute: the bootstrap is read by another process, from another working directory.
  const certDir = values.certDir ? path.resolve(values.certDir) : undefined;
  if (!values.envoy) {
    if (values.tls || values.label || values.serviceAccount || values.serverName) {
      throw new UsageError('--tls, --label, --service-account and --server-name apply to --envoy only');
    }
    const doc = grpcBootstrap({ ...common, server: values.server ?? 'localhost:15010', ...(certDir ? { certDir } : {}) });
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  if (values.tls && !certDir) throw new UsageError('--tls needs --cert-dir DIR (cert-chain.pem, key.pem, root-cert.pem)');
  if (!values.tls && certDir) throw new UsageError('--cert-dir with --envoy needs --tls (workload certificates come over SDS)');
  const server = values.server ?? (values.tls ? 'localhost:15012' : 'localhost:15010');
  const labels: Record<string, string> = {};
  for (const pair of values.label ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label wants key=value, got ${pair}`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const host = server.lastIndexOf(':') > 0 ? server.slice(0, server.lastIndexOf(':')) : server;
  const doc = envoyBootstrap({
    ...common,
    server,
    ...(values.serviceAccount ? { serviceAccount: values.serviceAccount } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(values.tls && certDir ? { tls: { certDir, serverName: values.serverName ?? host } } : {}),
  });
  // No anchors: plain YAML any reader takes.
  process.stdout.write(toYaml(doc, { aliasDuplicateObjects: false }));
  return 0;
}

/** What `/debug/version` answers; `meridian version --server` prints it beside the client's. */
export interface ServerVersion {
  readonly version: string;
  readonly replica: string;
  readonly startedAt: string;
}

/** `meridian version [--server ADDRESS]`: the client's version, and the control plane's. */
export async function versionCommand(values: { server?: string; tokenFile?: string; output: OutputFormat }): Promise<number> {
  const client = { version: MERIDIAN_VERSION, node: process.version, host: hostname() };
  let server: ServerVersion | undefined;
  if (values.server) {
    const debug = debugClient({ server: values.server, ...(values.tokenFile ? { tokenFile: values.tokenFile } : {}) });
    try {
      server = await debug.get<ServerVersion>('/debug/version');
    } catch (err) {
      process.stderr.write(`cannot read the control plane's version from ${debug.base}: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  if (values.output !== 'table') {
    process.stdout.write(formatDocument({ client, ...(server ? { server } : {}) }, values.output));
    return 0;
  }
  const rows = [['client', client.version, client.host, '-'], ...(server ? [['control plane', server.version, server.replica, server.startedAt]] : [])];
  process.stdout.write(table(['COMPONENT', 'VERSION', 'HOST/REPLICA', 'STARTED'], rows));
  return 0;
}
