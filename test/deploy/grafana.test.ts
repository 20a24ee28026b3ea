/**
 * deploy/grafana/meridian.json: a well-formed dashboard whose every metric name is one a
 * running Meridian really exports (scraped from /metrics), and which covers what operators
 * watch: proxies, pushes, convergence, NACKs, clusters, CA.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { exportedMetricNames, referencedMetricNames } from '../support/prometheus.ts';
import { DEPLOY_DIR } from './kustomize.ts';

interface Panel {
  type: string;
  title: string;
  id: number;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr: string; refId: string }>;
}

const dashboard = JSON.parse(readFileSync(path.join(DEPLOY_DIR, 'grafana', 'meridian.json'), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string }> };
};
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const referenced = [...new Set(exprs.flatMap(referencedMetricNames))].sort();

describe('Grafana dashboard', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let metrics = '';

  before(async () => {
    ws.copyExample('two-clusters');
    const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] }, 'grafana.yaml');
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    metrics = await (await fetch(`http://${meridian.httpAddress}/metrics`)).text();
  });

  after(async () => {
    await meridian.stop();
    ws.remove();
  });

  it('is a well-formed dashboard', () => {
    assert.equal(dashboard.uid, 'meridian-control-plane');
    assert.ok(dashboard.schemaVersion >= 36);
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
      if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
    }
    assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource'));
  });

  it('references only metrics that Meridian exports', () => {
    const exported = exportedMetricNames(metrics);
    assert.ok(exported.size > 20, 'scraped /metrics');
    const missing = referenced.filter((n) => !exported.has(n));
    assert.deepEqual(missing, [], `not in /metrics: ${missing.join(', ')}`);
  });

  it('covers proxies, pushes, convergence quantiles, NACKs, clusters by state and CA issuance', () => {
    for (const name of [
      'meridian_xds_connected_proxies',
      'meridian_xds_pushes_total',
      'meridian_proxy_convergence_time_seconds_bucket',
      'meridian_xds_push_time_seconds_bucket',
      'meridian_xds_rejects_total',
      'meridian_clusters',
      'meridian_ca_certificates_issued_total',
      'meridian_ca_certificate_failures_total',
      'meridian_ca_signing_cert_expiry_seconds',
    ]) {
      assert.ok(referenced.includes(name), `the dashboard shows ${name}`);
    }
    assert.ok(exprs.some((e) => /histogram_quantile\(0\.99, .*meridian_proxy_convergence_time_seconds_bucket/.test(e)), 'convergence p99');
  });
});
