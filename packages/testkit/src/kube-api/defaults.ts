// Server-side defaulting that clients observe on a real cluster and that
// components commonly depend on: allocated ClusterIPs, Secret `stringData`
// folded into `data`, the namespace name label. Everything else is stored as sent.
import type { ResourceType } from './resources.ts';
import type { KubeObject } from './types.ts';

type Json = Record<string, unknown>;

function record(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** Hands out ClusterIPs from 10.96.0.0/12 in order, never reusing one, like a fresh cluster would. */
export class ClusterIpAllocator {
  #next = 1;

  allocate(): string {
    const n = this.#next++;
    // 10.96.0.0/12 spans 10.96.0.0 – 10.111.255.255; skip .0 of the first /24.
    const b = 96 + Math.floor(n / 65536);
    return `10.${b}.${Math.floor(n / 256) % 256}.${n % 256}`;
  }
}

export function applyDefaults(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined, ips: ClusterIpAllocator): void {
  if (rt.group !== '') return;
  switch (rt.resource) {
    case 'services':
      defaultService(obj, old, ips);
      return;
    case 'secrets':
      defaultSecret(obj);
      return;
    case 'namespaces': {
      const meta = obj.metadata ?? {};
      meta.labels = { ...meta.labels, 'kubernetes.io/metadata.name': meta.name ?? '' };
      obj.metadata = meta;
      const spec = record(obj['spec']) ?? {};
      spec['finalizers'] ??= ['kubernetes'];
      obj['spec'] = spec;
      const status = record(obj['status']) ?? {};
      status['phase'] ??= 'Active';
      obj['status'] = status;
      return;
    }
    case 'pods': {
      const status = record(obj['status']) ?? {};
      status['phase'] ??= 'Pending';
      obj['status'] = status;
      return;
    }
  }
}

function defaultService(obj: KubeObject, old: KubeObject | undefined, ips: ClusterIpAllocator): void {
  const spec = record(obj['spec']) ?? {};
  obj['spec'] = spec;
  spec['type'] ??= 'ClusterIP';
  spec['sessionAffinity'] ??= 'None';
  const oldSpec = record(old?.['spec']);
  if (spec['type'] !== 'ExternalName') {
    // ClusterIP is immutable: an update that omits it keeps the allocated one.
    if (!spec['clusterIP'] && typeof oldSpec?.['clusterIP'] === 'string') spec['clusterIP'] = oldSpec['clusterIP'];
    if (!spec['clusterIP']) spec['clusterIP'] = ips.allocate();
    spec['clusterIPs'] ??= [spec['clusterIP']];
    spec['ipFamilies'] ??= ['IPv4'];
    spec['ipFamilyPolicy'] ??= 'SingleStack';
  }
  if (Array.isArray(spec['ports'])) {
    for (const p of spec['ports']) {
      const port = record(p);
      if (!port) continue;
      port['protocol'] ??= 'TCP';
      port['targetPort'] ??= port['port'];
    }
  }
}

function defaultSecret(obj: KubeObject): void {
  obj['type'] ??= 'Opaque';
  const stringData = record(obj['stringData']);
  if (!stringData) return;
  const data = record(obj['data']) ?? {};
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  obj['data'] = data;
  delete obj['stringData'];
}
