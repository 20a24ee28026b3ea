#!/usr/bin/env node
/**
 * Packs the installable `meridian` CLI:
 *
 *   pnpm pack:cli [--out DIR]        →  DIR/meridian-server-<version>.tgz (default DIR: dist/)
 *   npm install -g DIR/meridian-server-<version>.tgz
 *
 * The tarball holds one JavaScript file bundled by esbuild from the TypeScript sources of this
 * package and every package and library it imports, plus the data files those read at run time
 * (the .proto trees, the status page) beside it. It declares no dependencies, so it installs
 * offline, on Node 20 as on 24, with nothing to resolve: the workspace packages are not
 * published, and Node strips no types under node_modules, so the sources cannot run installed.
 * The manifest is this package's own with `publishConfig` applied and its dependencies left out
 * (they are inside the bundle); it is written to a staging directory and packed there by
 * `pnpm pack`, so the workspace's manifests and lockfile stay as they are.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const PACKAGE_DIR = path.resolve(import.meta.dirname, '..');
const REPO_ROOT = path.resolve(PACKAGE_DIR, '../..');
const BUNDLE = 'dist/meridian.mjs';

const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(PACKAGE_DIR, 'dist') } } });
const outDir = path.resolve(values.out);
const manifest = JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));
const rootManifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

const stage = mkdtempSync(path.join(tmpdir(), 'meridian-pack-'));
try {
  await build({
    entryPoints: [path.join(PACKAGE_DIR, 'src/cli.ts')],
    outfile: path.join(stage, BUNDLE),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${rootManifest.engines.node.replace(/^>=/, '')}`,
    // Not minified: a stack trace (--debug) should name real functions and lines.
    // CommonJS libraries in an ES module bundle still call require() (protobufjs does for fs).
    banner: { js: "import { createRequire as meridianCreateRequire } from 'node:module';\nconst require = meridianCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  copyProtos(path.join(stage, 'dist/proto'));
  cpSync(path.join(PACKAGE_DIR, 'src/status-page'), path.join(stage, 'dist/status-page'), { recursive: true });
  writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(packedManifest(), null, 2)}\n`);

  mkdirSync(outDir, { recursive: true });
  const packed = JSON.parse(execFileSync('pnpm', ['pack', '--json', '--pack-destination', outDir], { cwd: stage, encoding: 'utf8' }));
  process.stdout.write(`${packed.filename}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

function packedManifest() {
  if (manifest.publishConfig?.bin?.meridian !== BUNDLE) throw new Error(`package.json publishConfig.bin.meridian must be ${BUNDLE}`);
  return {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    private: manifest.private,
    type: 'module',
    bin: manifest.publishConfig.bin,
    files: ['dist'],
    engines: rootManifest.engines,
  };
}

/**
 * One `proto/` tree beside the bundle (found there by `packedAsset`): Meridian's own protos
 * and Envoy's API with what it imports, from the packages the sources load them from.
 */
function copyProtos(target) {
  const protoOnly = { recursive: true, filter: (src) => src.endsWith('.proto') || statSync(src).isDirectory() };
  cpSync(path.join(REPO_ROOT, 'proto'), target, protoOnly);
  const xdsRequire = createRequire(path.join(REPO_ROOT, 'packages/xds/package.json'));
  const grpcXds = path.dirname(xdsRequire.resolve('@grpc/grpc-js-xds/package.json'));
  for (const [dep, dir] of [['envoy-api', 'envoy'], ['xds', 'udpa'], ['xds', 'xds'], ['googleapis', 'google'], ['protoc-gen-validate', 'validate']]) {
    cpSync(path.join(grpcXds, 'deps', dep, dir), path.join(target, dir), protoOnly);
  }
  const protobufjs = path.dirname(xdsRequire.resolve('protobufjs/package.json'));
  const wellKnown = path.join(protobufjs, 'google/protobuf');
  mkdirSync(path.join(target, 'google/protobuf'), { recursive: true });
  for (const file of readdirSync(wellKnown).filter((f) => f.endsWith('.proto'))) {
    cpSync(path.join(wellKnown, file), path.join(target, 'google/protobuf', file));
  }
}
