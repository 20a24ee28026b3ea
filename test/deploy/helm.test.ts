/**
 * deploy/helm/meridian: `helm lint --strict` passes with the primary and the remote values,
 * `helm template` renders objects that match the Kubernetes schemas, and they are the objects
 * of the kustomize overlays (deploy/primary, deploy/remote, deploy/monitoring and the HPA
 * example), apart from Helm's own labels and the pod annotation that rolls the pods on a config
 * change. So the chart and deploy/ cannot drift apart, and what deploy/'s tests prove (RBAC
 * against `meridian serve`, alerts against a running Meridian's /metrics, a valid config whose
 * paths are mounted) holds for the chart too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RealPeer, realPeersMissing } from '@meridian/testkit';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/meridian-process.ts';
import { validateObject } from './kube-schema.ts';
import { DEPLOY_DIR, build, podSpecOf, readYamlDocs, type KubeManifest } from './kustomize.ts';

type Json = Record<string, unknown>;

const CHART = path.join(DEPLOY_DIR, 'helm/meridian');
const NAMESPACE = 'meridian-system';
/** Labels the chart adds for Helm (instance, chart, manager, version); deploy/ has none of them. */
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/instance', 'app.kubernetes.io/version'];
const CONFIG_CHECKSUM = 'checksum/config';

const skip = realPeersMissing([RealPeer.Helm]);

function helm(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync('helm', args, { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `helm template` of the chart into meridian-system with `values` files (in the chart) and `--set`s. */
function render(values: string[], sets: string[] = []): KubeManifest[] {
  const run = helm(['template', 'meridian', CHART, '--namespace', NAMESPACE, ...values.flatMap((v) => ['-f', path.join(CHART, v)]), ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(run.code, 0, run.stderr);
  return parseAllDocuments(run.stdout).flatMap((d) => {
    assert.deepEqual(d.errors, [], 'helm template printed valid YAML');
    const value = d.toJS() as KubeManifest | null;
    return value ? [value] : [];
  });
}

const id = (o: KubeManifest) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byId = (objects: KubeManifest[]) => new Map(objects.map((o) => [id(o), o]));

/** An object as deploy/ would have it: without Helm's labels and checksum, the config parsed. */
function comparable(o: KubeManifest): Json {
  const copy = structuredClone(o) as KubeManifest;
  for (const label of HELM_LABELS) delete copy.metadata.labels?.[label];
  const template = (copy['spec'] as Json | undefined)?.['template'] as { metadata?: { annotations?: Record<string, string> } } | undefined;
  if (template?.metadata?.annotations) {
    delete template.metadata.annotations[CONFIG_CHECKSUM];
    if (Object.keys(template.metadata.annotations).length === 0) delete template.metadata.annotations;
  }
  const data = copy['data'] as Record<string, string> | undefined;
  if (copy.kind === 'ConfigMap' && data) copy['data'] = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, parseYaml(v) as unknown]));
  return copy as unknown as Json;
}

function assertSameObjects(chart: KubeManifest[], kustomize: KubeManifest[]): void {
  const rendered = byId(chart);
  const expected = byId(kustomize);
  assert.deepEqual([...rendered.keys()].sort(), [...expected.keys()].sort(), 'the same objects');
  for (const [key, o] of rendered) assert.deepEqual(comparable(o), comparable(expected.get(key) as KubeManifest), key);
}

const hpaExample = () => (readYamlDocs(path.join(DEPLOY_DIR, 'examples/hpa.yaml')) as KubeManifest[]).map((o) => ({ ...o, metadata: { ...o.metadata, namespace: NAMESPACE } }));

describe('deploy/helm/meridian', { skip }, () => {
  it('helm lint --strict passes with the primary and the remote values', () => {
    for (const values of ['values-primary.yaml', 'values-remote.yaml']) {
      const run = helm(['lint', '--strict', CHART, '--namespace', NAMESPACE, '-f', path.join(CHART, values)]);
      assert.equal(run.code, 0, `${values}: ${run.stdout}${run.stderr}`);
    }
  });

  it('primary values render deploy/primary, every object valid', async () => {
    const objects = render(['values-primary.yaml'], ['namespace.create=true']);
    for (const o of objects) await validateObject(o, `helm primary ${id(o)}`);
    assertSameObjects(objects, build(path.join(DEPLOY_DIR, 'primary')));
  });

  it('remote values render deploy/remote: only the reader identity and its token', async () => {
    const objects = render(['values-remote.yaml'], ['namespace.create=true']);
    for (const o of objects) await validateObject(o, `helm remote ${id(o)}`);
    assertSameObjects(objects, build(path.join(DEPLOY_DIR, 'remote')));
  });

  it('monitoring and autoscaling render deploy/monitoring and the HPA example, and leave replicas to the HPA', async () => {
    const objects = render(['values-primary.yaml'], ['monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true', 'autoscaling.enabled=true']);
    const extra = objects.filter((o) => ['ServiceMonitor', 'PrometheusRule', 'HorizontalPodAutoscaler'].includes(o.kind));
    await validateObject(extra.find((o) => o.kind === 'HorizontalPodAutoscaler') as KubeManifest, 'helm hpa');
    assertSameObjects(extra, [...build(path.join(DEPLOY_DIR, 'monitoring')), ...hpaExample()]);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    assert.equal((deployment?.['spec'] as Json)['replicas'], undefined);
  });

  it('a config change changes the pod template (pods roll); other values do not', () => {
    const checksum = (sets: string[]) => {
      const deployment = render(['values-primary.yaml'], sets).find((o) => o.kind === 'Deployment') as KubeManifest;
      return ((deployment['spec'] as Json)['template'] as { metadata: { annotations: Record<string, string> } }).metadata.annotations[CONFIG_CHECKSUM];
    };
    const before = checksum([]);
    assert.match(before ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(checksum(['config.shutdown.drainMs=1000']), before);
    assert.equal(checksum(['replicaCount=3']), before);
  });

  it('the values schema refuses a misspelt or wrong value, naming it', () => {
    const typo = helm(['template', 'meridian', CHART, '--namespace', NAMESPACE, '--set', 'replicaCont=3']);
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /replicaCont/);
    const mode = helm(['template', 'meridian', CHART, '--namespace', NAMESPACE, '--set', 'mode=secondary']);
    assert.notEqual(mode.code, 0);
    assert.match(mode.stderr, /mode/);
    const noCacerts = helm(['template', 'meridian', CHART, '--namespace', NAMESPACE, '--set', 'config.ca.cacerts=null']);
    assert.notEqual(noCacerts.code, 0);
    assert.match(noCacerts.stderr, /cacerts/);
  });

  it("the chart's appVersion is the server's version, and its image tag follows it", () => {
    const chart = parseYaml(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const server = JSON.parse(readFileSync(path.join(REPO_ROOT, 'packages/server/package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, server.version);
    const deployment = render([]).find((o) => o.kind === 'Deployment') as KubeManifest;
    const [container] = (podSpecOf(deployment)?.['containers'] as Json[] | undefined) ?? [];
    assert.equal(container?.['image'], `meridian:${server.version}`);
  });
});
