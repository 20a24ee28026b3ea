// Kubernetes YAML (multi-document, `kind: List` included) → plain objects, so
// fixtures can be written the way they would be applied with kubectl.
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './types.ts';

function isObject(v: unknown): v is KubeObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function parseKubeYaml(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (!isObject(value)) continue;
    if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value['items'])) {
      out.push(...value['items'].filter(isObject));
    } else {
      out.push(value);
    }
  }
  return out;
}
