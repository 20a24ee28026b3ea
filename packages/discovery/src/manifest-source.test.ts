import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Health, silentLogger } from '@meridian/model';
import { ClusterRegistry, ClusterState } from './cluster-registry.ts';
import { ManifestDirectorySource } from './manifest-source.ts';

const ECHO = 'echo.apps.svc.cluster.local';
const HELLO = 'hello.apps.svc.cluster.local';
const WAIT_MS = 5000;

function serviceYaml(name: string, port = 7070): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: apps
spec:
  ports:
    - name: grpc
      port: ${port}
`;
}

function sliceYaml(name: string, address: string, ready = true): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-x1
  namespace: apps
  labels:
    kubernetes.io/service-name: ${name}
addressType: IPv4
ports:
  - name: grpc
    port: 7070
endpoints:
  - addresses: ["${address}"]
    conditions:
      ready: ${ready}
`;
}

function docs(...parts: string[]): string {
  return parts.join('---\n');
}

/** Polls until `condition` holds; fails with `what` after a bounded wait. */
async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${WAIT_MS} ms waiting for: ${what}`);
    await sleep(20);
  }
}

describe('ManifestDirectorySource', () => {
  let dir = '';
  let registry: ClusterRegistry;
  let source: ManifestDirectorySource | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meridian-manifests-'));
    registry = new ClusterRegistry({ cluster: 'east', network: 'net-east', domainSuffix: 'cluster.local', logger: silentLogger() });
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(): Promise<ManifestDirectorySource> {
    source = new ManifestDirectorySource({ directory: dir, registry, logger: silentLogger(), settleMs: 10 });
    await source.start();
    return source;
  }

  function fileStatus(s: ManifestDirectorySource, name: string) {
    return s.status().files.find((f) => f.file === path.join(dir, name));
  }

  it('loads the directory at start, including subdirectories, and marks the cluster synced', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    await mkdir(path.join(dir, 'team'));
    await writeFile(path.join(dir, 'team', 'hello.yml'), serviceYaml('hello'));
    await writeFile(path.join(dir, 'README.md'), 'not a manifest');
    await writeFile(path.join(dir, '.hidden.yaml'), serviceYaml('hidden'));
    assert.equal(registry.state, ClusterState.Syncing);

    const s = await start();
    assert.equal(registry.state, ClusterState.Synced);
    assert.deepEqual([...registry.clusterServices()].map((svc) => svc.hostname).sort(), [ECHO, HELLO]);
    assert.deepEqual(registry.endpoints(ECHO).map((e) => e.address), ['10.0.0.1']);
    const status = s.status();
    assert.equal(status.directory, dir);
    assert.notEqual(status.lastScanAt, null);
    assert.deepEqual(status.files, [
      { file: path.join(dir, 'echo.yaml'), objects: 2 },
      { file: path.join(dir, 'team', 'hello.yml'), objects: 1 },
    ]);
  });

  it('follows files being added, changed and deleted', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    await start();
    assert.equal(registry.endpoints(ECHO)[0]?.health, Health.Healthy);

    await writeFile(path.join(dir, 'hello.yaml'), docs(serviceYaml('hello'), sliceYaml('hello', '10.0.1.1')));
    await waitFor('hello added', () => registry.endpoints(HELLO).length === 1);
    assert.ok(registry.service(HELLO));

    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1', false)));
    await waitFor('echo unhealthy', () => registry.endpoints(ECHO)[0]?.health === Health.Unhealthy);

    await unlink(path.join(dir, 'hello.yaml'));
    await waitFor('hello removed', () => registry.service(HELLO) === undefined);
    assert.deepEqual(registry.endpoints(HELLO), []);
    assert.ok(registry.service(ECHO), 'the other file is untouched');
  });

  it('reports a malformed file and keeps its last good objects until it is fixed', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    const s = await start();

    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo', 8080), sliceYaml('echo', '10.0.0.2').replace('port: 7070', 'port: "http"')));
    await waitFor('the error is reported', () => fileStatus(s, 'echo.yaml')?.error !== undefined);
    const broken = fileStatus(s, 'echo.yaml');
    assert.equal(broken?.error?.document, 2);
    assert.match(broken?.error?.reason ?? '', /EndpointSlice: ports\.0\.port/);
    assert.equal(broken?.objects, 2);
    // Nothing of the broken version is applied: not even its valid first document.
    assert.deepEqual(registry.service(ECHO)?.ports.map((p) => p.port), [7070]);
    assert.deepEqual(registry.endpoints(ECHO).map((e) => e.address), ['10.0.0.1']);

    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo', 8080), sliceYaml('echo', '10.0.0.2')));
    await waitFor('the fix is applied', () => registry.endpoints(ECHO)[0]?.address === '10.0.0.2');
    assert.deepEqual(registry.service(ECHO)?.ports.map((p) => p.port), [8080]);
    assert.deepEqual(fileStatus(s, 'echo.yaml'), { file: path.join(dir, 'echo.yaml'), objects: 2 });
  });

  it('reports a file that is malformed from the start without blocking the others', async () => {
    await writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: [oops\n');
    await writeFile(path.join(dir, 'echo.yaml'), serviceYaml('echo'));
    const s = await start();
    assert.equal(registry.state, ClusterState.Synced);
    assert.ok(registry.service(ECHO));
    const bad = fileStatus(s, 'bad.yaml');
    assert.equal(bad?.objects, 0);
    assert.equal(bad?.error?.document, 1);
    assert.ok(bad?.error?.reason);
    assert.ok(bad?.error?.at && !Number.isNaN(Date.parse(bad.error.at)), 'error has a timestamp');

    await unlink(path.join(dir, 'bad.yaml'));
    await waitFor('the broken file leaves the status', () => fileStatus(s, 'bad.yaml') === undefined);
    assert.ok(registry.service(ECHO));
  });

  it('removes the objects of a removed file only', async () => {
    await writeFile(path.join(dir, 'services.yaml'), docs(serviceYaml('echo'), serviceYaml('hello')));
    await writeFile(path.join(dir, 'endpoints.yaml'), docs(sliceYaml('echo', '10.0.0.1'), sliceYaml('hello', '10.0.1.1')));
    const s = await start();
    assert.equal(registry.endpoints(ECHO).length, 1);

    await unlink(path.join(dir, 'endpoints.yaml'));
    await waitFor('endpoints removed', () => registry.endpoints(ECHO).length === 0 && registry.endpoints(HELLO).length === 0);
    assert.ok(registry.service(ECHO));
    assert.ok(registry.service(HELLO));
    assert.deepEqual(s.status().files.map((f) => path.basename(f.file)), ['services.yaml']);
    assert.equal(registry.status().objects.endpointSlices, 0);
  });
});
