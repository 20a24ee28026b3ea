/**
 * The `meridian` command tree, on commander: every command gets `--help` with its usage and
 * examples, typos get a "did you mean", `-o` takes only the formats it lists, and the tree is
 * what shell completion is generated from. The commands themselves live in cli-*.ts.
 */
import { Command, Option } from 'commander';
import { analyzeCommand } from './cli-analyze.ts';
import { authzCheckCommand } from './cli-authz.ts';
import { caIntermediateCommand, certificateCommand, jwtSvidCommand, tokenCommand } from './cli-ca.ts';
import { completionScript, SHELLS, type Shell } from './cli-completion.ts';
import { checkCommand, createRemoteSecretCommand, OUTPUT_FORMATS, statusCommand, type OutputFormat } from './cli-ops.ts';
import { PROXY_CONFIG_KINDS, proxyConfigCommand } from './cli-proxy-config.ts';
import { bootstrapCommand, serveCommand, validateCommand, versionCommand } from './cli-serve.ts';
import { MERIDIAN_VERSION } from './version.ts';

/** Where a command's exit code goes; commander's actions return nothing. */
export interface ProgramResult {
  code: number;
}

const examples = (lines: readonly string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

const outputOption = (formats: readonly OutputFormat[] = OUTPUT_FORMATS) =>
  new Option('-o, --output <format>', 'output format').choices(formats).default('table');

const TOKEN_FILE_HELP = 'file with the debug bearer token, needed from other hosts than Meridian\'s (default: $MERIDIAN_DEBUG_TOKEN)';
const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildProgram(result: ProgramResult): Command {
  const program = new Command('meridian');
  // Set before any subcommand exists: commander copies these settings into each one.
  program
    .description('multi-cluster service mesh control plane')
    .version(MERIDIAN_VERSION, '-V, --version', 'print the client version')
    .option('--debug', 'print stack traces for failures')
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText('after', examples(['meridian serve --config examples/two-clusters/meridian.yaml', 'meridian status --server localhost:15014', 'meridian check --config meridian.yaml -o json', 'meridian completion bash > /etc/bash_completion.d/meridian']));

  const run =
    <T>(command: (opts: T) => number | Promise<number>) =>
    async (opts: T) => {
      result.code = await command(opts);
    };

  program
    .command('serve')
    .description('run the control plane (ADS on listen.xds and listen.xdsTls, HTTP on listen.http)')
    .option('-c, --config <file>', 'config file (default: $MERIDIAN_CONFIG)')
    .addHelpText('after', examples(['meridian serve --config examples/two-clusters/meridian.yaml', 'MERIDIAN_CONFIG=/etc/meridian/meridian.yaml meridian serve']))
    .action(run(serveCommand));

  program
    .command('validate')
    .description('check a config file and exit (0 valid, 1 invalid)')
    .option('-c, --config <file>', 'config file (default: $MERIDIAN_CONFIG)')
    .addHelpText('after', examples(['meridian validate --config meridian.yaml']))
    .action(run(validateCommand));

  program
    .command('version')
    .description("print the client's version and, with --server, the control plane's version and replica")
    .option('--server <address>', "Meridian's HTTP port (host:port or URL)")
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .addOption(outputOption())
    .addHelpText('after', examples(['meridian version', 'meridian version --server localhost:15014 -o json']))
    .action(run(versionCommand));

  program
    .command('status')
    .description('connected proxies with their sync state per type, and clusters with their state; with --server per replica, every replica side by side, those that disagree flagged')
    .option('--server <address>', "Meridian's HTTP port (host:port or URL; default localhost:15014); repeat for every replica", collect, [])
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .option('--kubeconfig <file>', "find every replica in the cluster and read each through the API server's pod proxy (needs get on pods/proxy)")
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', "with --kubeconfig: Meridian's namespace", 'meridian-system')
    .option('--selector <labels>', "with --kubeconfig: Meridian's pods", 'app.kubernetes.io/name=meridian')
    .option('--port <port>', "with --kubeconfig: Meridian's HTTP port in the pod", '15014')
    .addOption(outputOption())
    .addHelpText('after', examples(['meridian status', 'meridian status --server 10.0.0.5:15014 -o yaml', 'meridian status --server 10.0.0.5:15014 --server 10.0.0.6:15014', 'meridian status --kubeconfig ~/.kube/config --context primary']))
    .action(run(statusCommand));

  program
    .command('proxy-config')
    .description(`what one proxy was last sent, as a table: ${PROXY_CONFIG_KINDS.join(', ')} (from /debug/config_dump)`)
    .argument('<proxy>', 'node id or connection id (see meridian status)')
    .argument('<kind>', PROXY_CONFIG_KINDS.join('|'))
    .option('--server <address>', "Meridian's HTTP port (host:port or URL)", 'http://localhost:15014')
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .addOption(outputOption())
    .addHelpText('after', examples(['meridian proxy-config sidecar~10.0.0.7~echo-1.demo~demo.svc.cluster.local clusters', 'meridian proxy-config client-1 endpoints -o json']))
    .action(async (proxy: string, kind: string, opts: Parameters<typeof proxyConfigCommand>[2]) => {
      result.code = await proxyConfigCommand(proxy, kind, opts);
    });

  program
    .command('check')
    .description('check every cluster (configured and from remote secrets): reachable, API version, permissions, token expiry, network and gateways; exit 0 when all is well, else 1')
    .option('-c, --config <file>', 'config file (default: $MERIDIAN_CONFIG)')
    .addOption(outputOption())
    .option('--timeout <ms>', 'how long to wait for each API call', '5000')
    .option('--server <address>', "also check a running Meridian (its HTTP port); repeat for every replica", collect)
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .addHelpText('after', examples(['meridian check --config meridian.yaml', 'meridian check --config meridian.yaml --server 10.0.0.5:15014 --server 10.0.0.6:15014', 'meridian check --config meridian.yaml -o json --timeout 2000']))
    .action(run(checkCommand));

  program
    .command('analyze')
    .description('read every cluster of the config as serve would and report what is wrong with services and policies together (conflicts, dangling hosts, empty subsets, selectors matching nothing); exit 1 on any error')
    .option('-c, --config <file>', 'config file (default: $MERIDIAN_CONFIG)')
    .addOption(outputOption())
    .option('--timeout <ms>', 'how long to wait for each cluster to be read', '10000')
    .addHelpText('after', examples(['meridian analyze --config meridian.yaml', 'meridian analyze --config meridian.yaml -o json']))
    .action(run(analyzeCommand));

  const authz = program.command('authz').description('authorization: who may call what');
  authz
    .command('check')
    .description('may --from call --to, and which AuthorizationPolicy rule decides, for each group of the service\'s endpoints; offline from --config or from a running Meridian with --server; exit 0 when every endpoint allows, else 1')
    .option('--from <caller>', 'a SPIFFE ID, <trust-domain>/ns/<ns>/sa/<sa>, a pod as <name>.<namespace>, or a pod IP')
    .option('--to <service>', '<name>.<namespace>[:port] or a hostname[:port]')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--path <path>', 'HTTP path', '/')
    .option('--header <name:value>', 'a request header (repeatable)', collect)
    .option('--request-principal <iss/sub>', "a validated JWT's issuer/subject")
    .option('-c, --config <file>', 'config file, read offline (default: $MERIDIAN_CONFIG)')
    .option('--server <address>', "ask a running Meridian instead (its HTTP port)")
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .option('--timeout <ms>', 'with --config: how long to wait for each cluster to be read', '10000')
    .addOption(outputOption())
    .addHelpText('after', examples([
      'meridian authz check --config meridian.yaml --from client-1.demo --to echo.demo:8080 --path /admin',
      'meridian authz check --server localhost:15014 --from spiffe://cluster.local/ns/web/sa/frontend --to echo.demo:8080 -o json',
    ]))
    .action(run(authzCheckCommand));

  program
    .command('bootstrap')
    .description('print a gRPC xDS bootstrap (JSON) for a proxyless client or server, or with --envoy an Envoy bootstrap (YAML) for a sidecar')
    .option('--node-id <id>', 'node id (for Envoy: sidecar~IP~POD.NS~NS.svc.cluster.local)')
    .option('--cluster <id>', 'cluster the proxy runs in')
    .option('--locality <region/zone/subzone>', "the proxy's locality")
    .option('--namespace <ns>', "the proxy's namespace")
    .option('--network <name>', "the proxy's network")
    .option('--server <host:port>', 'Meridian xDS address (default: localhost:15010, or localhost:15012 with --tls)')
    .option('--cert-dir <dir>', 'mTLS with DIR/cert-chain.pem, DIR/key.pem and DIR/root-cert.pem')
    .option('--envoy', 'an Envoy bootstrap (admin on 127.0.0.1:15000)', false)
    .option('--tls', 'Envoy: connect to 15012 with --cert-dir as client certificate', false)
    .option('--server-name <name>', "Envoy with --tls: the name Meridian's certificate must have (default: the server host)")
    .option('--service-account <sa>', "Envoy: the proxy's service account")
    .option('--label <key=value>', 'Envoy: a workload label (repeatable)', collect)
    .addHelpText('after', examples([
      'meridian bootstrap --node-id client-1 --cluster alpha --locality us-east/us-east-1a > bootstrap.json',
      'meridian bootstrap --envoy --node-id sidecar~10.0.0.7~echo-1.demo~demo.svc.cluster.local --tls --cert-dir ./certs',
    ]))
    .action(run(bootstrapCommand));

  program
    .command('token')
    .description("mint a token from the config's local issuer (for the certificate API)")
    .option('-c, --config <file>', 'config file (default: $MERIDIAN_CONFIG)')
    .option('-n, --namespace <ns>', 'workload namespace')
    .option('--service-account <sa>', 'workload service account')
    .option('--ttl <seconds>', 'token lifetime', '3600')
    .option('--audience <aud>', 'token audience', 'istio-ca')
    .addHelpText('after', examples(['meridian token --config meridian.yaml --namespace demo --service-account echo']))
    .action(run(tokenCommand));

  program
    .command('certificate')
    .description('get an SVID (cert-chain.pem, key.pem, root-cert.pem) from the certificate API')
    .option('--server <host:port>', 'certificate API (TLS port)', 'localhost:15012')
    .option('--server-name <name>', "the name Meridian's certificate must have, when --server is an address")
    .option('--root-cert <file>', 'root certificate to verify the server (from /trust-bundle)')
    .option('--token <jwt>', 'service-account token')
    .option('--token-file <file>', 'service-account token, from a file')
    .option('--cluster-id <id>', 'cluster whose API server validates the token (default: the primary)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option('-n, --namespace <ns>', 'workload namespace')
    .option('--service-account <sa>', 'workload service account')
    .option('--ttl <seconds>', 'requested lifetime (0: the server default)', '0')
    .option('--out <dir>', 'directory to write the files to')
    .addHelpText('after', examples([
      'meridian certificate --server localhost:15012 --root-cert root.pem --token "$(meridian token -c meridian.yaml -n demo --service-account echo)" -n demo --service-account echo --out ./certs',
    ]))
    .action(run(certificateCommand));

  program
    .command('jwt-svid')
    .description('get a JWT-SVID (SPIFFE) for the identity a token proves, for the audiences named; prints the token')
    .option('--server <host:port>', 'JWT-SVID API (TLS port)', 'localhost:15012')
    .option('--server-name <name>', "the name Meridian's certificate must have, when --server is an address")
    .option('--root-cert <file>', 'root certificate to verify the server (from /trust-bundle)')
    .option('--token <jwt>', 'service-account token')
    .option('--token-file <file>', 'service-account token, from a file')
    .option('--cluster-id <id>', 'cluster whose API server validates the token (default: the primary)')
    .option('--audience <aud>', 'the audience the token is for (repeatable)', collect)
    .option('--ttl <seconds>', 'requested lifetime (0: the server default, 5 minutes)', '0')
    .addHelpText('after', examples([
      'meridian jwt-svid --root-cert root.pem --token-file /var/run/secrets/tokens/istio-token --audience payments.example.com',
    ]))
    .action(run(jwtSvidCommand));

  const ca = program.command('ca').description('certificate authority material');
  ca.command('intermediate')
    .description('mint an intermediate CA (Istio cacerts layout) from a shared root, for multi-primary')
    .option('--root-dir <dir>', 'directory with root-cert.pem and root-key.pem')
    .option('--cluster <id>', 'cluster the intermediate is for')
    .option('--out <dir>', 'directory to write the cacerts files to')
    .option('--trust-domain <domain>', 'SPIFFE trust domain')
    .addHelpText('after', examples(['meridian ca intermediate --root-dir ./root --cluster beta --out ./beta-cacerts']))
    .action(run(caIntermediateCommand));

  program
    .command('create-remote-secret')
    .description('create (if missing) the read-only meridian-reader account in a remote cluster and print the remote Secret to apply in the primary')
    .option('--kubeconfig <file>', "the remote cluster's kubeconfig (an admin's)")
    .option('--context <name>', 'kubeconfig context')
    .option('--name <cluster-id>', 'cluster ID for the remote cluster')
    .option('-n, --namespace <ns>', "Meridian's namespace", 'meridian-system')
    .option('--service-account <sa>', 'reader service account', 'meridian-reader')
    .option('--server <url>', 'API server URL as the primary reaches it (default: from the kubeconfig)')
    .option('--token-ttl <seconds>', 'token lifetime', String(365 * 24 * 3600))
    .option('--token-secret <name>', 'take the token from this service-account-token Secret instead of a TokenRequest')
    .addHelpText('after', examples(['meridian create-remote-secret --kubeconfig beta-admin.kubeconfig --name beta | kubectl --context primary apply -f -']))
    .action(run(createRemoteSecretCommand));

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(program.createArgument('<shell>', 'shell to complete for').choices(SHELLS))
    .addHelpText('after', examples([
      'source <(meridian completion bash)',
      'meridian completion zsh > "${fpath[1]}/_meridian"',
      'meridian completion fish > ~/.config/fish/completions/meridian.fish',
    ]))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
      result.code = 0;
    });

  return program;
}
