#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MeridianError, createLogger, errorMessage } from '@meridian/model';
import { stringify as toYaml } from 'yaml';
import { envoyBootstrap, grpcBootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig, readEnv } from './config.ts';
import { UsageError, caCommand, certificateCommand, tokenCommand } from './cli-ca.ts';
import { checkCommand, createRemoteSecretCommand, statusCommand } from './cli-ops.ts';
import { startMeridian } from './meridian.ts';

const USAGE = `meridian — multi-cluster service mesh control plane

Usage:
  meridian serve --config FILE
      Run the control plane (ADS on listen.xds, HTTP on listen.http).
  meridian validate --config FILE
      Check a config file and exit (0 valid, 1 invalid).
  meridian token --config FILE --namespace NS --service-account SA [--ttl SECONDS]
      Mint a token from the config's local issuer (for the certificate API).
  meridian certificate --server host:15012 [--server-name NAME] --root-cert FILE --token T
                       --namespace NS --service-account SA --out DIR
      Get an SVID (cert-chain.pem, key.pem, root-cert.pem) from the certificate API.
  meridian ca intermediate --root-dir DIR --cluster ID --out DIR
      Mint an intermediate CA (Istio cacerts layout) from a shared root, for multi-primary.
  meridian bootstrap --node-id ID [--cluster C] [--locality region/zone/subzone]
                     [--namespace NS] [--network N] [--server host:port] [--cert-dir DIR]
      Print a gRPC xDS bootstrap (JSON) for a proxyless client or server. --cert-dir
      enables mTLS with DIR/cert-chain.pem, DIR/key.pem and DIR/root-cert.pem.
  meridian bootstrap --envoy --node-id sidecar~IP~POD.NS~NS.svc.cluster.local
                     [--cluster C] [--locality region/zone/subzone] [--namespace NS]
                     [--network N] [--service-account SA] [--label k=v ...]
                     [--server host:port] [--tls --cert-dir DIR [--server-name NAME]]
      Print an Envoy bootstrap (YAML) for a sidecar: ADS to Meridian, admin on
      127.0.0.1:15000. --tls connects to 15012 with DIR's SVID as client certificate and
      expects Meridian's certificate to name --server-name (default: the server host).
  meridian create-remote-secret --kubeconfig FILE [--context C] --name CLUSTER_ID
                                [--namespace NS] [--server URL] [--token-ttl SECONDS]
                                [--token-secret NAME]
      Create (if missing) the read-only meridian-reader account in a remote cluster and
      print the remote Secret to apply in the primary.
  meridian check --config FILE [--output table|json]
      Check every cluster (configured and from remote secrets): reachable, API version,
      permissions, token expiry, network and gateways. Exit 0 when all is well, else 1.
  meridian status [--server http://host:15014] [--output table|json]
      Connected proxies with their sync state per type, and clusters with their state.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'validate':
      return validate(rest);
    case 'bootstrap':
      return bootstrap(rest);
    case 'token':
      return tokenCommand(rest);
    case 'certificate':
      return certificateCommand(rest);
    case 'ca':
      return caCommand(rest);
    case 'create-remote-secret':
      return createRemoteSecretCommand(rest);
    case 'check':
      return checkCommand(rest);
    case 'status':
      return statusCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

function configPath(args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const file = values.config ?? readEnv('MERIDIAN_CONFIG');
  if (!file) throw new UsageError('--config FILE is required (or set MERIDIAN_CONFIG)');
  return file;
}


async function serve(args: string[]): Promise<number> {
  const config = loadConfig(configPath(args));
  const logger = createLogger({ level: config.log.level });
  const meridian = await startMeridian(config, logger);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'signal received');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await meridian.stop();
  return 0;
}

function validate(args: string[]): number {
  const file = configPath(args);
  const config = loadConfig(file);
  process.stdout.write(`${file}: valid (${config.clusters.length} clusters)\n`);
  return 0;
}

function bootstrap(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      'node-id': { type: 'string' },
      cluster: { type: 'string' },
      locality: { type: 'string' },
      namespace: { type: 'string' },
      network: { type: 'string' },
      server: { type: 'string' },
      'cert-dir': { type: 'string' },
      envoy: { type: 'boolean', default: false },
      tls: { type: 'boolean', default: false },
      'server-name': { type: 'string' },
      'service-account': { type: 'string' },
      label: { type: 'string', multiple: true },
    },
  });
  const nodeId = values['node-id'];
  if (!nodeId) throw new UsageError('--node-id is required');
  const common = {
    nodeId,
    ...(values.cluster ? { cluster: values.cluster } : {}),
    ...(values.locality ? { locality: values.locality } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.network ? { network: values.network } : {}),
  };
  // Absolute: the bootstrap is read by another process, from another working directory.
  const certDir = values['cert-dir'] ? path.resolve(values['cert-dir']) : undefined;
  if (!values.envoy) {
    if (values.tls || values.label || values['service-account'] || values['server-name']) {
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
    ...(values['service-account'] ? { serviceAccount: values['service-account'] } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(values.tls && certDir ? { tls: { certDir, serverName: values['server-name'] ?? host } } : {}),
  });
  // No anchors: plain YAML any reader takes.
  process.stdout.write(toYaml(doc, { aliasDuplicateObjects: false }));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${errorMessage(err)}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof MeridianError) {
      // Expected failures (a CA that does not validate, a kubeconfig that cannot load) need no stack.
      process.stderr.write(`meridian: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`meridian: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
