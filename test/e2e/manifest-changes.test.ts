/**
 * Manifest directories as operators and Kubernetes change them, against the real
 * `meridian serve`: a mounted ConfigMap (symlinks through `..data`, updated by swapping it),
 * `sed -i` (atomic replace), and a slice with a typo in one address, which must not stop a
 * real gRPC client from reaching the valid endpoints.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, TypeUrls, startEchoBackend, xdsEchoClient, type EchoBackend, type EchoClient } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const ECHO = 'outbound|7070||echo.demo.svc.cluster.local';
const HELLO = 'outbound|7070||hello.demo.svc.cluster.local';

type Cla = { endpoints?: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string } } } }> }> };
const addressesOf = (cla: Cla | undefined) => (cla?.endpoints ?? []).flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)).sort();

interface ClusterzBody {
  clusters: Array<{
    id: string;
    state: string;
    rejectedEndpoints: { count: number; items: Array<{ address: string; object: string; reason: string }> };
    source: { watch: { state: string; problems: unknown[] }; files: Array<{ file: string; objects: number }> };
  }>;
}

describe('manifest directories changed as tools and Kubernetes change them', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let backend: EchoBackend;
  let port = 0;
  const clients: EchoClient[] = [];
  const ads: AdsTestClient[] = [];

  const helloYaml = (address: string) =>
    yamlDocs(service('hello', 'demo', [{ name: 'grpc', port: 7070 }]), endpointSlice('hello-1', 'demo', 'hello', { name: 'grpc', port: 7070 }, [{ address }]));

  /** A ConfigMap version as the kubelet writes it: files in `..<timestamp>/`, `..data` pointing there. */
  function configMapVersion(name: string, address: string): void {
    mkdirSync(ws.path('mesh', name));
    writeFileSync(ws.path('mesh', name, 'hello.yaml'), helloYaml(address));
  }

  before(async () => {
    backend = await startEchoBackend({ host: '127.0.0.1', port: 0, cluster: 'east', name: 'east' });
    port = Number(backend.address.split(':')[1]);
    mkdirSync(ws.path('mesh'));
    // One valid endpoint (the real backend) and two typos, in one slice.
    writeFileSync(
      ws.path('mesh', 'echo.yaml'),
      yamlDocs(
        service('echo', 'demo', [{ name: 'grpc', port: 7070 }]),
        endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port }, [{ address: '999.1.1.1' }, { address: '127.0.0.1' }, { address: 'fd00::1' }]),
      ),
    );
    configMapVersion('..2026_12_02_10_00_00.1', '10.0.0.1');
    symlinkSync('..2026_12_02_10_00_00.1', ws.path('mesh', '..data'));
    symlinkSync('..data/hello.yaml', ws.path('mesh', 'hello.yaml'));
    const config = ws.writeConfig({ clusters: [{ id: 'east', network: 'net-east', manifests: './mesh' }], debounce: { quietMs: 20, maxMs: 200 } });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const c of ads) c.close();
    await meridian.stop();
    await backend.close();
    ws.remove();
  });

  const eds = async (name: string) => {
    const c = AdsTestClient.connect(meridian.xdsAddress, { id: `probe-${ads.length}`, metadata: { CLUSTER_ID: 'east', NETWORK: 'net-east' } });
    ads.push(c);
    return addressesOf((await c.requestAck(TypeUrls.Endpoint, [name])).resources[0] as Cla);
  };
  const clusterz = async () => (await meridian.getJson<ClusterzBody>('/debug/clusterz')).body.clusters[0];

  it('serves the valid endpoints of a slice with bad addresses, to a real gRPC client, and reports the bad ones', async () => {
    assert.deepEqual(await eds(ECHO), ['127.0.0.1']);
    const client = xdsEchoClient('xds:///echo.demo.svc.cluster.local:7070', {
      xds_servers: [{ server_uri: meridian.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3', 'ignore_resource_deletion'] }],
      node: { id: 'grpc-client', locality: {}, metadata: { CLUSTER_ID: 'east', NETWORK: 'net-east' } },
    });
    clients.push(client);
    assert.equal((await client.echo('hi')).backend, 'east');

    const cluster = await clusterz();
    assert.equal(cluster?.rejectedEndpoints.count, 2);
    assert.deepEqual(
      cluster?.rejectedEndpoints.items.map((r) => [r.object, r.address, r.reason]),
      [
        ['EndpointSlice demo/echo-1', '999.1.1.1', 'not an IPv4 address (addressType IPv4)'],
        ['EndpointSlice demo/echo-1', 'fd00::1', 'not an IPv4 address (addressType IPv4)'],
      ],
    );
    const metrics = await (await fetch(`http://${meridian.httpAddress}/metrics`)).text();
    assert.match(metrics, /^meridian_rejected_endpoints\{cluster="east"\} 2$/m);
    assert.match(metrics, /^meridian_manifest_watch_problems\{cluster="east"\} 0$/m);
  });

  it('reads a mounted ConfigMap through its symlinks and follows a ..data swap', async () => {
    assert.deepEqual(await eds(HELLO), ['10.0.0.1']);
    const cluster = await clusterz();
    assert.equal(cluster?.state, 'Synced');
    assert.equal(cluster?.source.watch.state, 'watching');
    assert.deepEqual(cluster?.source.files.map((f) => [f.file, f.objects]), [
      [ws.path('mesh', 'echo.yaml'), 2],
      [ws.path('mesh', 'hello.yaml'), 2],
    ]);

    configMapVersion('..2026_12_02_10_05_00.2', '10.0.0.2');
    symlinkSync('..2026_12_02_10_05_00.2', ws.path('mesh', '..data_tmp'));
    renameSync(ws.path('mesh', '..data_tmp'), ws.path('mesh', '..data'));
    rmSync(ws.path('mesh', '..2026_12_02_10_00_00.1'), { recursive: true });
    await eventually('the new ConfigMap version is served', async () => ((await eds(HELLO))[0] === '10.0.0.2' ? true : undefined), 5000);
  });

  it('sees every `sed -i` edit', async () => {
    const file = ws.path('mesh', 'echo.yaml');
    for (let i = 2; i <= 6; i++) {
      execFileSync('sed', ['-i', '-E', `s/127\\.0\\.0\\.[0-9]+/127.0.0.${i}/`, file]);
      await eventually(`sed edit ${i} served`, async () => ((await eds(ECHO))[0] === `127.0.0.${i}` ? true : undefined), 5000);
    }
  });
});
