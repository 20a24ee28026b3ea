import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { FSWatcher } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Health, silentLogger } from '@meridian/model';
import { ClusterRegistry, ClusterState } from './cluster-registry.ts';
import { ManifestDirectorySource, type ManifestSourceOptions } from './manifest-source.ts';

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

  async function start(options: Partial<ManifestSourceOptions> = {}): Promise<ManifestDirectorySource> {
    source = new ManifestDirectorySource({ directory: dir, registry, logger: silentLogger(), settleMs: 10, ...options });
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

  /** What `sed -i` and most editors do: write a new file beside the old one, rename it over. */
  async function replaceAtomically(file: string, content: string): Promise<void> {
    const tmp = path.join(path.dirname(file), `sed${Math.random().toString(36).slice(2, 8)}`);
    await writeFile(tmp, content);
    await rename(tmp, file);
  }

  const addresses = (hostname = ECHO) => registry.endpoints(hostname).map((e) => e.address);

  it('sees every atomic replace of a file, and in-place edits after one', async () => {
    const file = path.join(dir, 'echo.yaml');
    await writeFile(file, docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    await start();
    for (let i = 2; i <= 12; i++) {
      await replaceAtomically(file, docs(serviceYaml('echo'), sliceYaml('echo', `10.0.0.${i}`)));
      await waitFor(`replace ${i} seen`, () => addresses()[0] === `10.0.0.${i}`);
    }
    await writeFile(file, docs(serviceYaml('echo'), sliceYaml('echo', '10.0.1.1')));
    await waitFor('an in-place edit after the replaces', () => addresses()[0] === '10.0.1.1');
  });

  it('watches a directory that was replaced, by removal or by rename', async () => {
    await mkdir(path.join(dir, 'team'));
    await writeFile(path.join(dir, 'team', 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    await start();
    await rm(path.join(dir, 'team'), { recursive: true });
    await waitFor("the removed directory's objects leave", () => registry.service(ECHO) === undefined);
    await mkdir(path.join(dir, 'team'));
    await writeFile(path.join(dir, 'team', 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.2')));
    await waitFor('the new directory is read', () => addresses()[0] === '10.0.0.2');
    await writeFile(path.join(dir, 'team', 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.3')));
    await waitFor('an edit in the new directory', () => addresses()[0] === '10.0.0.3');

    // Staged aside, then renamed over the old one.
    await mkdir(path.join(dir, '.team-next'));
    await writeFile(path.join(dir, '.team-next', 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.4')));
    await rename(path.join(dir, 'team'), path.join(dir, '.team-old'));
    await rename(path.join(dir, '.team-next'), path.join(dir, 'team'));
    await rm(path.join(dir, '.team-old'), { recursive: true });
    await waitFor('the renamed directory is read', () => addresses()[0] === '10.0.0.4');
    await writeFile(path.join(dir, 'team', 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.5')));
    await waitFor('an edit in the renamed directory', () => addresses()[0] === '10.0.0.5');
  });

  it('follows a mounted ConfigMap: files are symlinks through ..data, updated by swapping ..data', async () => {
    // The layout the kubelet writes: ..<timestamp>/ holds the files, ..data points at it,
    // and each visible file is a symlink into ..data.
    const version = async (name: string, address: string) => {
      await mkdir(path.join(dir, name));
      await writeFile(path.join(dir, name, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', address)));
    };
    await version('..2026_12_01_10_00_00.1', '10.0.0.1');
    await symlink('..2026_12_01_10_00_00.1', path.join(dir, '..data'));
    await symlink('..data/echo.yaml', path.join(dir, 'echo.yaml'));
    const s = await start();
    assert.deepEqual(addresses(), ['10.0.0.1']);
    assert.deepEqual(s.status().files.map((f) => [f.file, f.objects]), [[path.join(dir, 'echo.yaml'), 2]], 'read once, through the visible name');

    await version('..2026_12_01_10_05_00.2', '10.0.0.2');
    await symlink('..2026_12_01_10_05_00.2', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await rm(path.join(dir, '..2026_12_01_10_00_00.1'), { recursive: true });
    await waitFor('the swapped content is served', () => addresses()[0] === '10.0.0.2');
  });

  it('follows a symlink to a file elsewhere, edits of its target included, and reports a dangling one', async () => {
    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'meridian-manifest-target-'));
    try {
      await writeFile(path.join(elsewhere, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
      await symlink(path.join(elsewhere, 'echo.yaml'), path.join(dir, 'echo.yaml'));
      await symlink(path.join(elsewhere, 'missing.yaml'), path.join(dir, 'gone.yaml'));
      const s = await start();
      assert.deepEqual(addresses(), ['10.0.0.1']);
      const dangling = fileStatus(s, 'gone.yaml');
      assert.equal(dangling?.objects, 0);
      assert.match(dangling?.error?.reason ?? '', /symlink to .*missing\.yaml: ENOENT/);

      await writeFile(path.join(elsewhere, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.2')));
      await waitFor('the edited target is served', () => addresses()[0] === '10.0.0.2');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('never applies a file while it is being written, only once it is complete and stable', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), serviceYaml('echo'));
    // Default settle time: a writer pausing well under it between chunks is waited for.
    source = new ManifestDirectorySource({ directory: dir, registry, logger: silentLogger() });
    await source.start();
    const seen: number[] = [];
    registry.onChange(() => seen.push(addresses().length));
    const slices = Array.from({ length: 8 }, (_, i) => sliceYaml('echo', `10.0.0.${i + 1}`).replace('echo-x1', `echo-x${i}`));
    // A new file written in chunks that each end on a document boundary, so every prefix parses.
    const fh = await open(path.join(dir, 'endpoints.yaml'), 'w');
    try {
      for (const slice of slices) {
        await fh.write(`---\n${slice}`);
        await sleep(80);
      }
    } finally {
      await fh.close();
    }
    await waitFor('the whole file is applied', () => addresses().length === 8);
    assert.deepEqual(seen, [8], 'no partial state was ever served');
    assert.equal(source.status().watch.settleMs, 200);
  });

  it('reports a directory that cannot be watched, and still follows it by rescanning', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    const noWatches: ManifestSourceOptions['watch'] = () => {
      throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
    };
    const s = await start({ watch: noWatches, rescanMs: 200 });
    const status = s.status();
    assert.equal(status.watch.state, 'degraded');
    assert.equal(status.watch.rescanMs, 200);
    assert.deepEqual(status.watch.problems.map((p) => [p.directory, p.error]), [[dir, 'cannot watch: ENOSPC: System limit for number of file watchers reached']]);
    assert.equal(registry.state, ClusterState.Degraded);
    assert.match(registry.status().lastError?.message ?? '', /cannot watch: ENOSPC/);

    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.2')));
    await waitFor('the change is seen by the rescan', () => addresses()[0] === '10.0.0.2');
  });

  it('sets a watch again after it fails, and reports the cluster healthy again', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    const watchers: Array<EventEmitter & { closed?: boolean }> = [];
    const fakeWatch: ManifestSourceOptions['watch'] = () => {
      const w = Object.assign(new EventEmitter(), { close() { (w as { closed?: boolean }).closed = true; } });
      watchers.push(w);
      return w as unknown as FSWatcher;
    };
    const s = await start({ watch: fakeWatch, rescanMs: 200 });
    assert.equal(s.status().watch.state, 'watching');
    const first = watchers.at(-1);
    assert.ok(first);
    first.emit('error', new Error('EIO: the watch broke'));
    assert.equal(s.status().watch.state, 'degraded');
    assert.equal(registry.state, ClusterState.Degraded);
    await waitFor('watched again', () => watchers.length >= 2 && s.status().watch.state === 'watching');
    assert.equal(first.closed, true);
    assert.equal(registry.state, ClusterState.Synced);
  });

  it('picks up a replaced top directory within the rescan period, and reports a missing one', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1')));
    const s = await start({ rescanMs: 200 });
    await rename(dir, `${dir}.old`);
    try {
      await waitFor('the missing directory is reported', () => s.status().watch.problems.some((p) => /cannot read the directory: .*ENOENT/.test(p.error)));
      assert.equal(registry.state, ClusterState.Degraded);
      assert.deepEqual(addresses(), ['10.0.0.1'], 'the last good objects stay');
      await mkdir(dir);
      await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.2')));
      await waitFor('the new directory is read', () => addresses()[0] === '10.0.0.2');
      await waitFor('healthy again', () => registry.state === ClusterState.Synced && s.status().watch.state === 'watching');
      await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.3')));
      await waitFor('and watched', () => addresses()[0] === '10.0.0.3');
    } finally {
      await rm(`${dir}.old`, { recursive: true, force: true });
    }
  });

  it('leaves out endpoints with invalid addresses and keeps the rest of the file', async () => {
    await writeFile(path.join(dir, 'echo.yaml'), docs(serviceYaml('echo'), sliceYaml('echo', '10.0.0.1'), sliceYaml('echo', 'not-an-ip').replace('echo-x1', 'echo-x2')));
    await start();
    assert.deepEqual(addresses(), ['10.0.0.1']);
    assert.deepEqual(registry.status().rejectedEndpoints.items.map((r) => [r.object, r.address]), [['EndpointSlice apps/echo-x2', 'not-an-ip']]);
  });
});
