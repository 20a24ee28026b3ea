/**
 * The installable CLI, as a user installs it: `pnpm pack:cli` makes the tarball, `npm install
 * -g` puts it into an empty prefix (offline: the tarball must need nothing from a registry),
 * and the installed `meridian` runs with no checkout, no tsx and no node_modules of ours —
 * answering --version, validating the shipped example, serving it (status page, /metrics,
 * xDS from the bundled Envoy protos) and issuing an SVID through the certificate service
 * (Meridian's own proto) with its own `token` and `certificate` commands. deploy/Dockerfile
 * installs the same tarball the same way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { issueSvidWithCli } from '../support/cli-svid.ts';
import { MeridianProcess, REPO_ROOT, Workspace, type MeridianCommand } from '../support/meridian-process.ts';
import { DEPLOY_DIR } from './kustomize.ts';

const SERVER_PACKAGE = path.join(REPO_ROOT, 'packages/server');

describe('the packed CLI, installed with npm install -g', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'meridian-packed-'));
  const prefix = path.join(scratch, 'prefix');
  const ws = new Workspace();
  let tarball = '';
  let installed: MeridianCommand = {};

  before(() => {
    const out = execFileSync(process.execPath, [path.join(SERVER_PACKAGE, 'scripts/pack-cli.mjs'), '--out', path.join(scratch, 'out')], { encoding: 'utf8' });
    tarball = out.trim();
    execFileSync('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: scratch, encoding: 'utf8' });
    installed = { bin: path.join(prefix, 'bin/meridian'), cwd: scratch };
    ws.copyExample('two-clusters');
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
    ws.remove();
  });

  it('installs one package with no dependencies and nothing from the checkout', () => {
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
    const source = JSON.parse(readFileSync(path.join(SERVER_PACKAGE, 'package.json'), 'utf8')) as { version: string; publishConfig: { bin: unknown } };
    assert.equal(manifest['version'], source.version);
    assert.deepEqual(manifest['bin'], source.publishConfig.bin);
    assert.equal(manifest['dependencies'], undefined);
    assert.deepEqual(readdirSync(path.join(prefix, 'lib/node_modules')), ['@meridian']);
    assert.deepEqual(readdirSync(path.join(prefix, 'lib/node_modules/@meridian')), ['server']);
    const bundle = readFileSync(path.join(prefix, 'lib/node_modules/@meridian/server/dist/meridian.mjs'), 'utf8');
    assert.ok(!bundle.includes(REPO_ROOT), 'the bundle names no path of the checkout it was built in');
  });

  it('meridian --version prints the package version; --help exits 0', async () => {
    const version = await MeridianProcess.run(['--version'], {}, installed);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(path.join(SERVER_PACKAGE, 'package.json'), 'utf8')).version);
    const help = await MeridianProcess.run(['serve', '--help'], {}, installed);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: meridian serve/);
  });

  it('meridian validate passes the shipped example and reports a broken one', async () => {
    const good = await MeridianProcess.run(['validate', '--config', ws.path('meridian.yaml')], {}, installed);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /valid \(2 clusters\)/);
    const broken = ws.write('broken.yaml', { clusters: [{ id: 'east', manifests: './east', netwrok: 'x' }, { id: 'west', manifests: './nowhere' }] });
    const bad = await MeridianProcess.run(['validate', '--config', broken], {}, installed);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"netwrok"; did you mean "network"\?/);
    assert.match(bad.stderr, /nowhere/);
  });

  it('meridian serve runs the example: status page, metrics, xDS and the certificate service', async () => {
    const config = ws.writeConfig({ clusters: [{ id: 'east', network: 'net-east', manifests: './east' }] }, 'serve.yaml');
    const meridian = await MeridianProcess.start(['serve', '--config', config], {}, installed);
    const ads = AdsTestClient.connect(meridian.xdsAddress, { id: 'sidecar~10.0.0.5~client-0.demo~demo.svc.cluster.local', metadata: { CLUSTER_ID: 'east', NAMESPACE: 'demo' } });
    try {
      const page = await fetch(`http://${meridian.httpAddress}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/);
      const metrics = await (await fetch(`http://${meridian.httpAddress}/metrics`)).text();
      assert.match(metrics, /^meridian_build_info\{version="[^"]+"\} 1$/m);

      const cds = await ads.requestAck(TypeUrls.Cluster);
      assert.ok(cds.names.includes('outbound|7070||echo.demo.svc.cluster.local'), cds.names.join(', '));

      const rootCert = ws.write('root.pem', await (await fetch(`http://${meridian.httpAddress}/trust-bundle`)).text());
      const svid = await issueSvidWithCli({ meridian, config, rootCert, out: ws.path('svid'), command: installed });
      assert.equal(svid.code, 0, svid.stderr);
      const san = execFileSync('openssl', ['x509', '-in', svid.chainFile, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
      assert.match(san, /URI:spiffe:\/\/cluster\.local\/ns\/demo\/sa\/echo/);
    } finally {
      ads.close();
      await meridian.stop();
    }
  });

  it('deploy/Dockerfile installs the packed tarball and runs meridian', () => {
    const dockerfile = readFileSync(path.join(DEPLOY_DIR, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /pnpm --filter @meridian\/server pack:cli --out \/out/);
    assert.match(dockerfile, /npm install --global --offline .*\/out\/meridian-server-\*\.tgz/);
    assert.match(dockerfile, /^ENTRYPOINT \["meridian"\]$/m);
  });
});
