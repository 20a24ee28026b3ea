/**
 * deploy/monitoring (Prometheus operator) and the base's scheduling and network rules: the
 * ServiceMonitor scrapes the Service's monitoring port, every alert is complete and refers
 * only to metrics a running Meridian exports (scraped from /metrics, as the dashboard test
 * does), and the Deployment spreads by zone, has a startup probe, and only its ports are open.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';
import { exportedMetricNames, referencedMetricNames } from '../support/prometheus.ts';
import { build, containersOf, DEPLOY_DIR, podSpecOf, readYamlDocs, type KubeManifest } from './kustomize.ts';

type Json = Record<string, unknown>;
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}

const monitoring = build(path.join(DEPLOY_DIR, 'monitoring'));
const primary = build(path.join(DEPLOY_DIR, 'primary'));
const byKind = (objects: KubeManifest[], kind: string) => objects.filter((o) => o.kind === kind);
const rules = byKind(monitoring, 'PrometheusRule').flatMap((r) => ((r['spec'] as { groups: Array<{ rules: Rule[] }> }).groups ?? []).flatMap((g) => g.rules));

describe('deploy/monitoring', () => {
  const ws = new Workspace();
  let meridian: MeridianProcess;
  let metrics = '';

  before(async () => {
    ws.copyExample('two-clusters');
    const config = ws.writeConfig({ clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }] }, 'monitoring.yaml');
    meridian = await MeridianProcess.start(['serve', '--config', config]);
    metrics = await (await fetch(`http://${meridian.httpAddress}/metrics`)).text();
  });

  after(async () => {
    await meridian.stop();
    ws.remove();
  });

  it('the ServiceMonitor scrapes /metrics on the Service port that serves it', () => {
    const [monitor] = byKind(monitoring, 'ServiceMonitor');
    assert.ok(monitor);
    assert.equal(monitor.metadata.namespace, 'meridian-system');
    const spec = monitor['spec'] as { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> };
    const [service] = byKind(primary, 'Service');
    const serviceLabels = service?.metadata.labels ?? {};
    assert.ok(Object.entries(spec.selector.matchLabels).every(([k, v]) => serviceLabels[k] === v), 'selects the Service');
    const port = ((service?.['spec'] as { ports: Array<{ name: string; port: number }> }).ports ?? []).find((p) => p.name === spec.endpoints[0]?.port);
    assert.equal(port?.port, 15014);
    assert.equal(spec.endpoints[0]?.path, '/metrics');
  });

  it('alerts on CA and credential expiry, stale clusters, NACKs, convergence p99 and disconnected proxies, each complete', () => {
    const names = rules.map((r) => r.alert);
    for (const wanted of ['MeridianCASigningCertExpiring', 'MeridianClusterCredentialExpiring', 'MeridianClusterStale', 'MeridianProxiesRejectingConfig', 'MeridianSlowConvergence', 'MeridianProxiesDisconnected']) {
      assert.ok(names.includes(wanted), `${wanted} in ${names.join(', ')}`);
    }
    assert.equal(new Set(names).size, names.length, 'unique alert names');
    for (const r of rules) {
      assert.ok(r.expr.trim().length > 0, `${r.alert}: expr`);
      assert.equal([...r.expr].filter((c) => c === '(').length, [...r.expr].filter((c) => c === ')').length, `${r.alert}: balanced parentheses`);
      assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert}: for`);
      assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description`);
    }
  });

  it("every alert refers only to metrics a running Meridian exports", () => {
    const exported = exportedMetricNames(metrics);
    const missing = rules.flatMap((r) => referencedMetricNames(r.expr).filter((n) => !exported.has(n)).map((n) => `${r.alert}: ${n}`));
    assert.deepEqual(missing, []);
  });

  it('the Deployment spreads replicas by zone and waits for start-up; only its ports take connections', () => {
    const [deployment] = byKind(primary, 'Deployment');
    assert.ok(deployment);
    const pod = podSpecOf(deployment) ?? {};
    const spread = (pod['topologySpreadConstraints'] as Array<{ topologyKey: string; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> } }>)[0];
    assert.equal(spread?.topologyKey, 'topology.kubernetes.io/zone');
    assert.equal(spread?.whenUnsatisfiable, 'ScheduleAnyway', 'a single-zone cluster still schedules');
    const [container] = containersOf(deployment);
    const startup = container?.['startupProbe'] as { httpGet: { path: string; port: number }; periodSeconds: number; failureThreshold: number };
    assert.deepEqual(startup.httpGet, { path: '/healthz', port: 15014 });
    assert.ok(startup.periodSeconds * startup.failureThreshold >= 60, 'a minute or more to start');
    const [policy] = byKind(primary, 'NetworkPolicy');
    const spec = policy?.['spec'] as { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Array<{ ports: Array<{ port: number }> }> };
    assert.deepEqual(spec.policyTypes, ['Ingress']);
    assert.deepEqual(spec.ingress.flatMap((i) => i.ports.map((p) => p.port)), [15010, 15012, 15014]);
    const podLabels = ((deployment['spec'] as Json)['template'] as { metadata: { labels: Record<string, string> } }).metadata.labels;
    assert.ok(Object.entries(spec.podSelector.matchLabels).every(([k, v]) => podLabels[k] === v), 'selects the pods');
  });

  it('the HPA example scales the Deployment from at least 2 replicas', () => {
    const [hpa] = readYamlDocs(path.join(DEPLOY_DIR, 'examples', 'hpa.yaml')) as KubeManifest[];
    const spec = hpa?.['spec'] as { scaleTargetRef: { kind: string; name: string }; minReplicas: number };
    assert.deepEqual([spec.scaleTargetRef.kind, spec.scaleTargetRef.name], ['Deployment', 'meridian']);
    assert.ok(spec.minReplicas >= 2, 'the PodDisruptionBudget needs two to allow an eviction');
  });
});
