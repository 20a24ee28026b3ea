import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig, type MeridianConfig } from './config.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let tmp = '';
let configFile = '';

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'meridian-config-'));
  mkdirSync(path.join(tmp, 'east'));
  mkdirSync(path.join(tmp, 'west'));
  mkdirSync(path.join(tmp, 'conf'));
  writeFileSync(path.join(tmp, 'not-a-dir.yaml'), '');
  configFile = path.join(tmp, 'meridian.yaml');
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const CLUSTERS = `clusters:
  - id: east
    manifests: ./east
`;

function parse(text: string, env: NodeJS.ProcessEnv = {}): MeridianConfig {
  return parseConfig(text, configFile, env);
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parse(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.match(err.message, new RegExp(`^invalid config ${configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`));
    for (const p of err.problems) assert.ok(err.message.includes(`  - ${p}`), `message lists ${p}`);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

/** The path a `^path: ` pattern expects, unescaped. */
function pathOf(pattern: RegExp): string {
  const m = /^\^(.*?): /.exec(pattern.source);
  assert.ok(m?.[1], `pattern ${pattern} starts with ^path: `);
  return m[1].replace(/\\(.)/g, '$1');
}

describe('parseConfig', () => {
  it('fills in the defaults', () => {
    const config = parse(CLUSTERS);
    assert.deepEqual(config, {
      trustDomain: 'cluster.local',
      trustDomainAliases: [],
      domainSuffix: 'cluster.local',
      listen: { xds: '0.0.0.0:15010', xdsTls: '0.0.0.0:15012', http: '0.0.0.0:15014' },
      http: {},
      ca: {
        dir: path.join(tmp, '.meridian/ca'),
        keyAlgorithm: 'ECDSA_P256',
        defaultTtlSeconds: 86_400,
        maxTtlSeconds: 604_800,
        audiences: ['istio-ca'],
        plaintext: false,
        rateLimit: { refill: 10, intervalMs: 10_000, burst: 20 },
        localIssuer: { enabled: true, issuer: 'https://meridian.local' },
        jwtIssuers: [],
        secret: { enabled: false, name: 'meridian-ca' },
      },
      federation: [],
      mtls: { mode: 'disable', services: {} },
      debounce: { quietMs: 100, maxMs: 1000 },
      clusterLocalHosts: ['*.kube-system.svc.cluster.local', 'kubernetes.default.svc.cluster.local'],
      clusters: [{ id: 'east', manifests: path.join(tmp, 'east'), primary: false }],
      namespace: 'meridian-system',
      remoteSecrets: { enabled: true },
      discovery: {
        staleAfterMs: 300_000,
        readinessTimeoutMs: 30_000,
        backoff: { initialMs: 1000, maxMs: 30_000 },
        kubeconfigPolicy: { allowExec: false, allowAuthProviders: false, allowFileReferences: false },
      },
      networks: {},
      policy: { sources: 'all', dryRunReadIntervalMs: 30000 },
      log: { level: 'info', format: 'auto' },
      shutdown: { graceMs: 5000, drainMs: 5000 },
      telemetry: { providers: {}, accessLogging: [], tracing: { randomSamplingPercentage: 1 } },
    });
  });

  it('names a default access-log provider the config does not define', () => {
    assert.throws(() => parse('telemetry:\n  providers: { stdout: { envoyFileAccessLog: {} } }\n  accessLogging: [stdout, audit]\n'), /telemetry\.accessLogging\[1\]: no provider audit in telemetry\.providers/);
    // An opentelemetry provider takes logs as well as traces.
    const config = parse(`${CLUSTERS}telemetry:\n  providers: { otel: { opentelemetry: { service: otel.observability, port: 4317 } } }\n  accessLogging: [otel]\n`);
    assert.deepEqual(config.telemetry.accessLogging, ['otel']);
  });

  it('keeps the values it is given', () => {
    const config = parse(`trustDomain: example.org
domainSuffix: mesh.local
listen: { xds: "127.0.0.1:25010", http: "[::1]:25014" }
debounce: { quietMs: 0, maxMs: 0 }
clusterLocalHosts: []
log: { level: warn }
shutdown: { graceMs: 0 }
clusters:
  - id: east
    network: net-1
    manifests: ${path.join(tmp, 'east')}
  - id: west
    manifests: west
`);
    assert.equal(config.trustDomain, 'example.org');
    assert.equal(config.domainSuffix, 'mesh.local');
    assert.deepEqual(config.listen, { xds: '127.0.0.1:25010', xdsTls: '0.0.0.0:15012', http: '[::1]:25014' });
    assert.deepEqual(config.debounce, { quietMs: 0, maxMs: 0 });
    assert.deepEqual(config.clusterLocalHosts, []);
    assert.equal(config.log.level, 'warn');
    assert.equal(config.shutdown.graceMs, 0);
    assert.deepEqual(config.clusters, [
      { id: 'east', network: 'net-1', manifests: path.join(tmp, 'east'), primary: false },
      { id: 'west', manifests: path.join(tmp, 'west'), primary: false },
    ]);
  });

  it('resolves relative manifest paths against the config file directory, not the working directory', () => {
    const nested = path.join(tmp, 'conf', 'meridian.yaml');
    const config = parseConfig('clusters:\n  - id: east\n    manifests: ../east\n', nested, {});
    assert.equal(config.clusters[0]?.manifests, path.join(tmp, 'east'));
    assert.notEqual(process.cwd(), path.join(tmp, 'conf'));
  });

  const bad: { name: string; text: string; want: RegExp[] }[] = [
    {
      name: 'bad cluster id',
      text: 'clusters:\n  - id: east\n    manifests: ./east\n  - id: "West_2"\n    manifests: ./west\n',
      want: [/^clusters\[1\]\.id: /],
    },
    { name: 'listen.xds without a port', text: `${CLUSTERS}listen: { xds: localhost }\n`, want: [/^listen\.xds: expected host:port/] },
    { name: 'listen.xds with an empty host', text: `${CLUSTERS}listen: { xds: ":15010" }\n`, want: [/^listen\.xds: expected host:port/] },
    { name: 'listen.xds port too high', text: `${CLUSTERS}listen: { xds: "0.0.0.0:70000" }\n`, want: [/^listen\.xds: port must be at most 65535/] },
    { name: 'listen.http not a string', text: `${CLUSTERS}listen: { http: 15014 }\n`, want: [/^listen\.http: /] },
    { name: 'debounce.maxMs below quietMs', text: `${CLUSTERS}debounce: { quietMs: 200, maxMs: 100 }\n`, want: [/^debounce\.maxMs: maxMs must be at least quietMs/] },
    { name: 'debounce.maxMs not a number', text: `${CLUSTERS}debounce: { maxMs: soon }\n`, want: [/^debounce\.maxMs: /] },
    { name: 'debounce.quietMs negative', text: `${CLUSTERS}debounce: { quietMs: -1 }\n`, want: [/^debounce\.quietMs: /] },
    { name: 'log.level unknown', text: `${CLUSTERS}log: { level: verbose }\n`, want: [/^log\.level: /] },
    { name: 'log.format unknown', text: `${CLUSTERS}log: { format: pretty }\n`, want: [/^log\.format: /] },
    { name: 'http.debugTokenFile missing', text: `${CLUSTERS}http: { debugTokenFile: ./no-token }\n`, want: [/^http\.debugTokenFile: cannot read .*no-token/] },
    { name: 'trustDomain upper case', text: `${CLUSTERS}trustDomain: Cluster.Local\n`, want: [/^trustDomain: /] },
    { name: 'shutdown.graceMs fractional', text: `${CLUSTERS}shutdown: { graceMs: 1.5 }\n`, want: [/^shutdown\.graceMs: /] },
    { name: 'clusterLocalHosts empty entry', text: `${CLUSTERS}clusterLocalHosts: ["a.b", ""]\n`, want: [/^clusterLocalHosts\[1\]: /] },
    { name: 'no clusters', text: 'clusters: []\n', want: [/^clusters: at least one cluster is required/] },
    { name: 'clusters missing', text: 'trustDomain: cluster.local\n', want: [/^clusters: /] },
    { name: 'empty file', text: '', want: [/^clusters: /] },
    { name: 'cluster without manifests', text: 'clusters:\n  - id: east\n', want: [/^clusters\[0\]\.manifests: /] },
    { name: 'not a mapping', text: '- east\n- west\n', want: [/^\(root\): /] },
    { name: 'unknown top-level key', text: `${CLUSTERS}tracing: {}\n`, want: [/^\(root\): .*"tracing"/] },
    { name: 'unknown key under listen', text: `${CLUSTERS}listen: { grpc: "0.0.0.0:1" }\n`, want: [/^listen: .*"grpc"/] },
    { name: 'unknown key in a cluster', text: `${CLUSTERS}    kubeconfg: x\n`, want: [/^clusters\[0\]: .*"kubeconfg"/] },
    { name: 'two sources for one cluster', text: `${CLUSTERS}    kubeconfig: x\n`, want: [/^clusters\[0\]\.manifests: exactly one of manifests or kubeconfig/] },
    {
      name: 'several problems at once',
      text: 'listen: { xds: nope }\ndebounce: { maxMs: -5 }\nclusters:\n  - id: east\n    manifests: ./east\n  - id: ""\n    manifests: ./west\n',
      want: [/^listen\.xds: /, /^debounce\.maxMs: /, /^clusters\[1\]\.id: /],
    },
  ];
  for (const c of bad) {
    it(`names the path of a bad field: ${c.name}`, () => {
      const problems = problemsOf(c.text);
      for (const want of c.want) {
        assert.ok(problems.some((p) => want.test(p)), `${want} in ${JSON.stringify(problems)}`);
      }
      // No problem about any other field (a field may have more than one problem).
      for (const p of problems) {
        assert.ok(c.want.some((want) => p.startsWith(`${pathOf(want)}: `)), `unexpected problem ${p}`);
      }
    });
  }

  it('reports a missing port only as a format problem', () => {
    assert.deepEqual(problemsOf(`${CLUSTERS}listen: { xds: localhost }\n`), ['listen.xds: expected host:port, e.g. 0.0.0.0:15010']);
  });

  it('rejects duplicate cluster ids', () => {
    const problems = problemsOf('clusters:\n  - id: east\n    manifests: ./east\n  - id: west\n    manifests: ./west\n  - id: east\n    manifests: ./west\n');
    assert.deepEqual(problems, ['clusters[2].id: duplicate cluster id "east" (also clusters[0])']);
  });

  it('rejects manifest paths that are not directories', () => {
    const problems = problemsOf('clusters:\n  - id: east\n    manifests: ./missing\n  - id: west\n    manifests: ./not-a-dir.yaml\n');
    assert.deepEqual(problems, [
      `clusters[0].manifests: not a directory: ${path.join(tmp, 'missing')}`,
      `clusters[1].manifests: not a directory: ${path.join(tmp, 'not-a-dir.yaml')}`,
    ]);
  });

  it('rejects invalid YAML', () => {
    const problems = problemsOf('clusters:\n  - id: east\n   manifests: [\n');
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^\(file\): not valid YAML: /);
  });

  it('keeps the CA in a Secret by default only when the primary is a Kubernetes cluster without cacerts', () => {
    const kube = `clusters:\n  - id: alpha\n    kubeconfig: in-cluster\n    primary: true\n`;
    assert.deepEqual(parse(kube).ca.secret, { enabled: true, name: 'meridian-ca' });
    assert.equal(parse(`${kube}ca: { cacerts: ./conf }\n`).ca.secret.enabled, false);
    assert.equal(parse(`${kube}ca: { secret: { enabled: false } }\n`).ca.secret.enabled, false);
    assert.deepEqual(problemsOf(`${kube}ca: { cacerts: ./conf, secret: { enabled: true } }\n`), [
      "ca.secret.enabled: cannot be used with ca.cacerts (a plugged-in CA is not Meridian's to store)",
    ]);
    assert.deepEqual(problemsOf(`${CLUSTERS}ca: { secret: { enabled: true } }\n`), ['ca.secret.enabled: needs a primary cluster with a kubeconfig (or in-cluster)']);
  });

  it('lets MERIDIAN_LOG_LEVEL override log.level', () => {
    const text = `${CLUSTERS}log: { level: warn }\n`;
    assert.equal(parse(text, {}).log.level, 'warn');
    assert.equal(parse(text, { MERIDIAN_LOG_LEVEL: '' }).log.level, 'warn');
    assert.equal(parse(text, { MERIDIAN_LOG_LEVEL: 'debug' }).log.level, 'debug');
    assert.equal(parse(CLUSTERS, { MERIDIAN_LOG_LEVEL: 'error' }).log.level, 'error');
  });

  it('names MERIDIAN_LOG_LEVEL when its value is invalid', () => {
    const problems = problemsOf(CLUSTERS, { MERIDIAN_LOG_LEVEL: 'loud' });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^MERIDIAN_LOG_LEVEL: /);
  });
});

describe('meridian validate (CLI)', () => {
  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MERIDIAN_')));
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'packages/server/src/cli.ts'), ...args],
        { cwd: REPO_ROOT, env, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  it('exits 1 and prints every bad path on stderr', async () => {
    const file = path.join(tmp, 'bad.yaml');
    writeFileSync(
      file,
      'listen: { xds: nope }\ndebounce: { maxMs: -1 }\nclusters:\n  - id: east\n    manifests: ./east\n  - id: "West!"\n    manifests: ./west\n',
    );
    const { code, stdout, stderr } = await runCli(['validate', '--config', file]);
    assert.equal(code, 1, `exit code; stderr: ${stderr}`);
    assert.equal(stdout, '');
    assert.ok(stderr.startsWith(`invalid config ${file}:`), stderr);
    for (const p of ['listen.xds: ', 'debounce.maxMs: ', 'clusters[1].id: ']) {
      assert.ok(stderr.includes(`  - ${p}`), `stderr names ${p}: ${stderr}`);
    }
    assert.ok(!stderr.includes('    at '), 'no stack trace');
  });

  it('reports schema problems, duplicate ids and missing directories in one pass, with did-you-mean for misspelt keys', async () => {
    const file = path.join(tmp, 'several.yaml');
    writeFileSync(file, 'clustrs: []\nmtls: { mode: strct }\nclusters:\n  - { id: east, manifests: ./east }\n  - { id: east, manifests: ./nowhere }\n');
    const { code, stderr } = await runCli(['validate', '--config', file]);
    assert.equal(code, 1);
    assert.match(stderr, / {2}- \(root\): Unrecognized key: "clustrs"; did you mean "clusters"\?/);
    assert.match(stderr, / {2}- mtls\.mode: /);
    assert.match(stderr, / {2}- clusters\[1\]\.id: duplicate cluster id "east" \(also clusters\[0\]\)/);
    assert.match(stderr, / {2}- clusters\[1\]\.manifests: not a directory: .*nowhere/);
  });

  it('reads each manifest directory: a file that does not parse and a policy object with a bad field are named', async () => {
    const dir = path.join(tmp, 'checked');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: [broken\n');
    writeFileSync(path.join(dir, 'route.yaml'), '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [r]\n  http: [{ route: [{ destination: { host: r } }], timout: 1s }]\n');
    const file = path.join(tmp, 'checked.yaml');
    writeFileSync(file, 'clusters:\n  - id: east\n    manifests: ./checked\n');
    const { code, stderr } = await runCli(['validate', '--config', file]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, / {2}- clusters\[east\] broken\.yaml: document 1: /);
    assert.match(stderr, / {2}- clusters\[east\] route\.yaml:2: spec\.http\[0\]: Unrecognized key: "timout"/);
  });

  it('exits 0 on a valid config', async () => {
    const file = path.join(tmp, 'good.yaml');
    writeFileSync(file, 'clusters:\n  - id: east\n    manifests: ./east\n  - id: west\n    manifests: ./west\n');
    const { code, stdout } = await runCli(['validate', '--config', file]);
    assert.equal(code, 0);
    assert.equal(stdout, `${file}: valid (2 clusters)\n`);
  });
});
