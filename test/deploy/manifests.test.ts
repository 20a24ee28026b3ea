/**
 * deploy/: every file parses, every object is a valid Kubernetes object (validated against the
 * Kubernetes OpenAPI schemas compiled into the `kubernetes-models` package), and the rendered
 * overlays hang together: names that refer to each other exist, selectors select the pods,
 * the config in the ConfigMap is a valid Meridian config whose paths are mounted.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '@meridian/server';
import { parse as parseYaml } from 'yaml';
import { validateObject } from './kube-schema.ts';
import { DEPLOY_DIR, build, containersOf, isClusterScoped, podSpecOf, readYamlDocs, yamlFiles, type KubeManifest } from './kustomize.ts';

type Json = Record<string, unknown>;

const KUSTOMIZATION = 'kustomization.yaml';
/** The kustomize side of deploy/; the Helm chart's templates are checked by helm.test.ts. */
const kustomizeFiles = () => yamlFiles(DEPLOY_DIR).filter((f) => !f.startsWith(path.join(DEPLOY_DIR, 'helm') + path.sep));
const isPatch = (file: string) => /-patch\.ya?ml$/.test(file);
const id = (o: KubeManifest) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objects: KubeManifest[], kind: string, name?: string) => objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const one = (objects: KubeManifest[], kind: string, name?: string): KubeManifest => {
  const found = find(objects, kind, name);
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0] as KubeManifest;
};
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const overlays = { base: build(path.join(DEPLOY_DIR, 'base')), primary: build(path.join(DEPLOY_DIR, 'primary')), remote: build(path.join(DEPLOY_DIR, 'remote')) };

describe('deploy/ manifests', () => {
  it('every YAML file parses', () => {
    const files = kustomizeFiles();
    assert.ok(files.length >= 15, `found ${files.length} files`);
    for (const f of files) assert.ok(readYamlDocs(f).length > 0, `${f} has at least one document`);
  });

  it('every resource file holds valid Kubernetes objects (OpenAPI schemas via kubernetes-models)', async () => {
    for (const file of kustomizeFiles()) {
      if (file.endsWith(KUSTOMIZATION) || isPatch(file)) continue;
      for (const [i, o] of (readYamlDocs(file) as KubeManifest[]).entries()) {
        // The Prometheus operator's kinds have no schema here: monitoring.test.ts checks them.
        if (o.apiVersion.startsWith('monitoring.coreos.com/')) continue;
        await validateObject(o, `${path.relative(DEPLOY_DIR, file)}#${i}`);
      }
    }
  });

  it('the schema check does catch mistakes', async () => {
    const bad = structuredClone(one(overlays.base, 'Deployment'));
    ((podSpecOf(bad)?.['containers'] as Json[])[0] as Json)['ports'] = [{ containerPort: '15010' }];
    await assert.rejects(validateObject(bad, 'mutated'), /containerPort must be integer/);
  });

  for (const [name, objects] of Object.entries(overlays)) {
    it(`${name}: renders to unique, valid, namespaced objects`, async () => {
      const ids = objects.map(id);
      assert.deepEqual(ids.filter((x, i) => ids.indexOf(x) !== i), [], 'no duplicates');
      for (const o of objects) {
        await validateObject(o, `${name} ${id(o)}`);
        if (isClusterScoped(o.kind)) assert.equal(o.metadata.namespace, undefined, `${id(o)} is cluster-scoped`);
        else assert.equal(o.metadata.namespace, 'meridian-system', `${id(o)} namespace`);
        assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'meridian', `${id(o)} labelled`);
      }
      for (const b of [...find(objects, 'RoleBinding'), ...find(objects, 'ClusterRoleBinding')]) {
        const roleRef = b['roleRef'] as { kind: string; name: string };
        assert.equal(find(objects, roleRef.kind, roleRef.name).length, 1, `${id(b)} refers to an existing ${roleRef.kind}`);
        for (const s of b['subjects'] as Array<{ kind: string; name: string; namespace: string }>) {
          assert.equal(s.kind, 'ServiceAccount');
          assert.ok(objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === s.name && o.metadata.namespace === s.namespace), `${id(b)} subject ${s.name}`);
        }
      }
    });
  }

  it('primary: a Deployment that is safe to run as two replicas', () => {
    const objects = overlays.primary;
    const deployment = one(objects, 'Deployment', 'meridian');
    const spec = deployment['spec'] as Json;
    const pod = podSpecOf(deployment) ?? {};
    const podLabels = ((spec['template'] as Json)['metadata'] as { labels: Record<string, string> }).labels;
    assert.equal(spec['replicas'], 2);
    assert.ok(matches((spec['selector'] as { matchLabels: Record<string, string> }).matchLabels, podLabels));
    const anti = ((pod['affinity'] as Json)['podAntiAffinity'] as Json)['preferredDuringSchedulingIgnoredDuringExecution'] as Array<{ podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } } }>;
    assert.equal(anti[0]?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    assert.ok(matches(anti[0]?.podAffinityTerm.labelSelector.matchLabels ?? {}, podLabels), 'anti-affinity selects its own pods');

    assert.equal(pod['serviceAccountName'], 'meridian');
    one(objects, 'ServiceAccount', 'meridian');
    assert.equal((pod['securityContext'] as Json)['runAsNonRoot'], true);

    const [container] = containersOf(deployment);
    assert.ok(container);
    assert.match(String(container['image']), /^meridian:\d+\.\d+\.\d+$/, 'the images rule of the overlay applied');
    const sc = container['securityContext'] as Json;
    assert.equal(sc['readOnlyRootFilesystem'], true);
    assert.equal(sc['allowPrivilegeEscalation'], false);
    const probe = (name: string) => (container[name] as { httpGet: { path: string; port: number } }).httpGet;
    assert.deepEqual(probe('readinessProbe'), { path: '/readyz', port: 15014 });
    assert.deepEqual(probe('livenessProbe'), { path: '/healthz', port: 15014 });
    const resources = container['resources'] as { requests: Json; limits: Json };
    assert.ok(resources.requests['cpu'] && resources.requests['memory'] && resources.limits['memory']);
    const env = container['env'] as Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
    assert.equal(env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    assert.ok(env.find((e) => e.name === 'MERIDIAN_CLUSTER_ID')?.value, 'the primary names its cluster');

    // The config file: from the ConfigMap, valid, and every path it names is mounted.
    const mounts = container['volumeMounts'] as Array<{ name: string; mountPath: string; readOnly?: boolean }>;
    const volumes = pod['volumes'] as Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object }>;
    for (const m of mounts) assert.ok(volumes.some((v) => v.name === m.name), `mount ${m.name} has a volume`);
    const args = container['args'] as string[];
    const configFile = args[args.indexOf('--config') + 1] ?? '';
    const configMount = mounts.find((m) => configFile.startsWith(`${m.mountPath}/`));
    const configVolume = volumes.find((v) => v.name === configMount?.name);
    assert.ok(configVolume?.configMap, `${configFile} comes from a ConfigMap`);
    const configMap = one(objects, 'ConfigMap', configVolume.configMap.name);
    const text = (configMap['data'] as Record<string, string>)[path.basename(configFile)];
    assert.ok(text, 'the ConfigMap holds the config file');
    const parsed = configSchema.safeParse(parseYaml(text));
    assert.ok(parsed.success, parsed.success ? '' : parsed.error.message);
    const config = parsed.data;
    const mountOf = (p: string) => mounts.find((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`));
    const caDir = mountOf(config.ca.dir);
    assert.ok(caDir && !caDir.readOnly && volumes.find((v) => v.name === caDir.name)?.emptyDir, 'ca.dir is a writable emptyDir (read-only root filesystem)');
    assert.ok(mountOf('/tmp'), '/tmp is writable');
    // Replicas must share CA material: the primary mounts the cacerts Secret at ca.cacerts.
    assert.ok(config.ca.cacerts, 'ca.cacerts is set');
    const cacerts = mountOf(config.ca.cacerts);
    assert.equal(cacerts?.mountPath, config.ca.cacerts);
    assert.equal(volumes.find((v) => v.name === cacerts.name)?.secret?.secretName, 'cacerts');
    assert.equal(config.ca.localIssuer.enabled, false, 'no per-replica token issuer');

    // Shutdown fits in the grace period: preStop sleep, then drain, then grace.
    const preStop = ((container['lifecycle'] as Json)['preStop'] as { sleep?: { seconds: number } }).sleep?.seconds ?? 0;
    assert.ok(Number(pod['terminationGracePeriodSeconds']) * 1000 > preStop * 1000 + config.shutdown.drainMs + config.shutdown.graceMs);

    // The Service: the three ports, selecting the pods, named for the serving certificate.
    const service = one(objects, 'Service', 'meridian');
    const serviceSpec = service['spec'] as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: number }> };
    assert.ok(matches(serviceSpec.selector, podLabels));
    assert.deepEqual(serviceSpec.ports.map((p) => [p.port, p.targetPort]), [[15010, 15010], [15012, 15012], [15014, 15014]]);
    const containerPorts = (container['ports'] as Array<{ containerPort: number }>).map((p) => p.containerPort);
    assert.deepEqual(containerPorts, [15010, 15012, 15014]);

    const pdb = one(objects, 'PodDisruptionBudget', 'meridian');
    const pdbSpec = pdb['spec'] as { minAvailable: number; selector: { matchLabels: Record<string, string> } };
    assert.ok(matches(pdbSpec.selector.matchLabels, podLabels));
    assert.ok(pdbSpec.minAvailable >= 1 && pdbSpec.minAvailable < 2, 'one replica may be evicted at a time');
  });

  it('remote: only the reader identity and its token', () => {
    const kinds = overlays.remote.map((o) => o.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'Secret', 'ServiceAccount']);
    const secret = one(overlays.remote, 'Secret');
    assert.equal(secret['type'], 'kubernetes.io/service-account-token');
    assert.equal(secret.metadata.annotations?.['kubernetes.io/service-account.name'], one(overlays.remote, 'ServiceAccount').metadata.name);
    assert.equal(one(overlays.remote, 'ServiceAccount').metadata.name, 'meridian-reader');
    assert.equal(find(overlays.remote, 'Role').length, 0, 'no access to Secrets in remote clusters');
  });
});
