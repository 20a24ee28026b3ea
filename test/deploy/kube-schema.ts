/**
 * Kubernetes objects checked against the OpenAPI schemas compiled into the `kubernetes-models`
 * package, for deploy/'s kustomize overlays and the Helm chart alike.
 */
import assert from 'node:assert/strict';
import type { KubeManifest } from './kustomize.ts';

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The schema-checked model of an apiVersion/kind, e.g. `kubernetes-models/apps/v1/Deployment`. */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, ModelClass | undefined>;
  const model = mod[kind];
  if (!model) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return model;
}

/** Fails, naming `where`, unless `o` is a well-formed object of a kind the schemas know. */
export async function validateObject(o: KubeManifest, where: string): Promise<void> {
  assert.equal(typeof o.apiVersion, 'string', `${where}: apiVersion`);
  assert.equal(typeof o.kind, 'string', `${where}: kind`);
  assert.match(o.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${where}: metadata.name`);
  const Model = await modelFor(o.apiVersion, o.kind);
  try {
    new Model(o).validate();
  } catch (err) {
    assert.fail(`${where}: ${o.kind} ${o.metadata.name} does not match the Kubernetes schema: ${String(err)}`);
  }
}
