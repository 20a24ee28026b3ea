/**
 * The part of kustomize that deploy/ uses, so tests can check what `kubectl apply -k` would
 * apply without kustomize installed: `resources` (files and directories), `namespace`,
 * `labels[].pairs`, `patches[].path` (strategic merge: maps merged, lists of named items
 * merged by `name`, other lists replaced) and `images`. Anything else in a kustomization is
 * refused, so a feature used in deploy/ but not resolved here cannot pass unnoticed.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const DEPLOY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy');

export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'Node', 'PersistentVolume', 'StorageClass']);
const KUSTOMIZATION_KEYS = new Set(['apiVersion', 'kind', 'namespace', 'labels', 'resources', 'patches', 'images']);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

/** Every document of a YAML file; a parse error throws with the file name. */
export function readYamlDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs.flatMap((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = d.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}

/** Every .yaml / .yml file under a directory. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry) ? [full] : [];
  });
}

/** What `kustomize build dir` gives, for the features listed above. */
export function build(dir: string): KubeManifest[] {
  const [k] = readYamlDocs(path.join(dir, 'kustomization.yaml')) as Json[];
  if (!k) throw new Error(`${dir}: empty kustomization.yaml`);
  const unknown = Object.keys(k).filter((key) => !KUSTOMIZATION_KEYS.has(key));
  if (unknown.length > 0) throw new Error(`${dir}/kustomization.yaml: not resolved by this test helper: ${unknown.join(', ')}`);
  let objects: KubeManifest[] = (k['resources'] as string[] | undefined ?? []).flatMap((r) => {
    const full = path.join(dir, r);
    return statSync(full).isDirectory() ? build(full) : (readYamlDocs(full) as KubeManifest[]);
  });
  for (const patch of (k['patches'] as Array<{ path?: string }> | undefined) ?? []) {
    if (!patch.path) throw new Error(`${dir}: only file patches are resolved`);
    for (const p of readYamlDocs(path.join(dir, patch.path)) as KubeManifest[]) {
      const i = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      if (i < 0) throw new Error(`${dir}/${patch.path}: no ${p.kind} ${p.metadata.name} to patch`);
      objects[i] = strategicMerge(objects[i] as unknown as Json, p as unknown as Json) as unknown as KubeManifest;
    }
  }
  const namespace = k['namespace'] as string | undefined;
  const labels = ((k['labels'] as Array<{ pairs?: Record<string, string> }> | undefined) ?? []).reduce<Record<string, string>>(
    (acc, l) => ({ ...acc, ...l.pairs }),
    {},
  );
  const images = (k['images'] as Array<{ name: string; newName?: string; newTag?: string }> | undefined) ?? [];
  objects = objects.map((o) => {
    const copy = structuredClone(o);
    if (namespace && !isClusterScoped(copy.kind)) copy.metadata.namespace = namespace;
    if (Object.keys(labels).length > 0) copy.metadata.labels = { ...copy.metadata.labels, ...labels };
    for (const c of containersOf(copy)) {
      const [name = '', tag] = String(c['image'] ?? '').split(':');
      const rule = images.find((i) => i.name === name);
      if (rule) c['image'] = `${rule.newName ?? name}:${rule.newTag ?? tag ?? 'latest'}`;
    }
    return copy;
  });
  return objects;
}

/** The containers (and init containers) of a workload's pod template. */
export function containersOf(o: KubeManifest): Json[] {
  const pod = podSpecOf(o);
  return pod ? [...((pod['containers'] as Json[] | undefined) ?? []), ...((pod['initContainers'] as Json[] | undefined) ?? [])] : [];
}

export function podSpecOf(o: KubeManifest): Json | undefined {
  const spec = o['spec'] as Json | undefined;
  const template = spec?.['template'] as Json | undefined;
  return template?.['spec'] as Json | undefined;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function strategicMerge(base: unknown, patch: unknown): unknown {
  if (isObject(base) && isObject(patch)) {
    const out: Json = { ...base };
    for (const [key, value] of Object.entries(patch)) out[key] = key in base ? strategicMerge(base[key], value) : value;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && [...base, ...patch].every((x) => isObject(x) && typeof x['name'] === 'string')) {
    const out = [...base] as Json[];
    for (const item of patch as Json[]) {
      const i = out.findIndex((x) => x['name'] === item['name']);
      if (i >= 0) out[i] = strategicMerge(out[i], item) as Json;
      else out.push(item);
    }
    return out;
  }
  return patch;
}
