/**
 * Metric hygiene, read from the real `meridian serve`'s /metrics the way Prometheus reads
 * it: counters that only go up are counters, type labels are lower case like Istio's,
 * process metrics carry their standard names, and a build_info gauge says the version.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdsTestClient, TypeUrls } from '@meridian/testkit';
import { endpointSlice, service, yamlDocs } from '../support/manifests.ts';
import { MeridianProcess, REPO_ROOT, Workspace } from '../support/meridian-process.ts';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'packages/server/package.json'), 'utf8')) as { version: string }).version;

describe('metrics', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let client: AdsTestClient;
  let text = '';

  before(async () => {
    mkdirSync(ws.path('c1'));
    writeFileSync(ws.path('c1', 'echo.yaml'), yamlDocs(service('echo', 'demo', [{ name: 'grpc', port: 7070 }]), endpointSlice('echo-1', 'demo', 'echo', { name: 'grpc', port: 7070 }, [{ address: '10.0.0.1' }])));
    meridian = await MeridianProcess.start(['serve', '--config', ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }] })]);
    client = AdsTestClient.connect(meridian.xdsAddress, { id: 'metrics-proxy' });
    await client.requestAck(TypeUrls.Cluster, ['outbound|7070||echo.demo.svc.cluster.local']);
    text = await (await fetch(`http://${meridian.httpAddress}/metrics`)).text();
  });

  after(async () => {
    client?.close();
    await meridian?.stop();
    ws.remove();
  });

  it('meridian_build_info{version} is 1', () => {
    assert.match(text, new RegExp(`^meridian_build_info\\{version="${VERSION.replaceAll('.', '\\.')}"\\} 1$`, 'm'));
  });

  it('cluster events are a counter named _total', () => {
    assert.match(text, /^# TYPE meridian_cluster_events_total counter$/m);
    assert.match(text, /^meridian_cluster_events_total\{cluster="c1"\} [1-9]\d*$/m);
    assert.doesNotMatch(text, /^meridian_cluster_events\{/m);
  });

  it('xDS type labels are lower case', () => {
    assert.match(text, /^meridian_xds_pushes_total\{type="cds"\} [1-9]/m);
    assert.doesNotMatch(text, /type="[A-Z]+"/);
  });

  it('process metrics have their standard names, without a doubled prefix', () => {
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
    assert.doesNotMatch(text, /process_process_/);
  });
});
