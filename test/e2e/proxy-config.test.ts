/**
 * `meridian proxy-config` and `meridian status` against the real `meridian serve` and a
 * connected proxy: the tables show what the proxy was last sent; status shows a NACK's text
 * and a broken manifest where an operator looks first.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { eventually } from '../support/eventually.ts';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

const HOST = 'echo.demo.svc.cluster.local';
const CLUSTER = `outbound|7070||${HOST}`;

describe('meridian proxy-config and status', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let client: AdsTestClient;
  const cli = (...args: string[]) => MeridianProcess.run([...args, '--server', meridian.httpAddress]);

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeFileSync(ws.path('c1', 'echo.yaml'), yamlDocs(service('echo', 'demo', [{ name: 'grpc', port: 7070 }]), endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 7070 }, [{ address: '10.0.0.1' }]), service('other', 'demo', [{ name: 'grpc', port: 7070 }])));
    writeFileSync(ws.path('c1', 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: [broken\n');
    const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] });
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    client = AdsTestClient.connect(meridian.xdsAddress, { id: 'pc-proxy', metadata: { CLUSTER_ID: 'c1' } });
    await client.requestAck(TypeUrls.Listener, [`${HOST}:7070`]);
    await client.requestAck(TypeUrls.Route, [`${HOST}:7070`]);
    await client.requestAck(TypeUrls.Cluster, [CLUSTER]);
    await client.requestAck(TypeUrls.Endpoint, [CLUSTER]);
  });

  after(async () => {
    client?.close();
    await meridian?.stop();
    ws.remove();
  });

  it('clusters, listeners, routes and endpoints as tables of what the proxy was sent', async () => {
    const clusters = await cli('proxy-config', 'pc-proxy', 'clusters');
    assert.equal(clusters.code, 0, clusters.stderr);
    assert.match(clusters.stdout, /^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+NAME$/m);
    assert.match(clusters.stdout, new RegExp(`^${HOST.replaceAll('.', '\\.')}\\s+7070\\s+-\\s+outbound\\s+EDS\\s+outbound\\|7070\\|\\|`, 'm'));
    const endpoints = await cli('proxy-config', 'pc-proxy', 'endpoints');
    assert.match(endpoints.stdout, /^outbound\|7070\|\|echo\.demo\.svc\.cluster\.local\s+10\.0\.0\.1:7070\s+HEALTHY\s+/m);
    const listeners = await cli('proxy-config', 'pc-proxy', 'listeners');
    assert.match(listeners.stdout, new RegExp(`^${HOST.replaceAll('.', '\\.')}:7070\\s+-\\s+-\\s+0\\s+api_listener$`, 'm'));
    const routes = await cli('proxy-config', 'pc-proxy', 'routes');
    assert.match(routes.stdout, new RegExp(`\\s+\\*\\s+outbound\\|7070\\|\\|${HOST.replaceAll('.', '\\.')}$`, 'm'));
    const json = await cli('proxy-config', 'pc-proxy', 'clusters', '-o', 'json');
    assert.deepEqual((JSON.parse(json.stdout) as Array<{ name: string }>).map((c) => c.name), [CLUSTER]);
  });

  it('an unknown proxy is a clear error; an unknown kind a usage error', async () => {
    const unknown = await cli('proxy-config', 'nobody', 'clusters');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /cannot read nobody's config .*HTTP 404: no connected proxy nobody/);
    const kind = await cli('proxy-config', 'pc-proxy', 'filters');
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /unknown kind "filters": one of clusters, listeners, routes, endpoints, secrets/);
  });

  it('status: the SDS column, a NACK with its text, and a broken manifest as the cluster\'s last error', async () => {
    // A new subscription brings a response; the proxy rejects it.
    const names = [CLUSTER, 'outbound|7070||other.demo.svc.cluster.local'];
    client.send({ typeUrl: TypeUrls.Cluster, names });
    let response = await client.next();
    while (response.type_url !== TypeUrls.Cluster) response = await client.next();
    client.send({ typeUrl: TypeUrls.Cluster, names, nonce: response.nonce, error: { code: 3, message: 'cluster outbound|7070: bad lb policy' } });
    const status = await eventually('the NACK in status', async () => {
      const run = await cli('status');
      return run.stdout.includes('CDS: cluster outbound|7070: bad lb policy') ? run : undefined;
    });
    assert.match(status.stdout, /NODE\s+CLUSTER\s+TYPE\s+CONNECTED\s+LDS\s+RDS\s+CDS\s+EDS\s+SDS\s+LAST NACK/);
    assert.match(status.stdout, /^pc-proxy\s+.*\s+NACKED\s+SYNCED\s+-\s+CDS: cluster outbound\|7070: bad lb policy$/m);
    assert.match(status.stdout, /^c1\s+Synced\s+.*\s+broken\.yaml: document 1: /m);
  });
});
