import { EMPTY_LOCALITY, ProxyType, type ClusterId, type NetworkId, type ProxyNode } from '@meridian/model';

/** The `node` of a DiscoveryRequest as protobufjs decodes it (snake_case). */
export interface NodeMessage {
  id?: string;
  cluster?: string;
  metadata?: unknown;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name?: string;
  client_features?: string[];
}

export interface ProxyDefaults {
  /** Used when the node names no `CLUSTER_ID`. */
  readonly cluster: ClusterId;
  /** Network of each known cluster, for nodes that name no `NETWORK`. */
  readonly networkOf: (cluster: ClusterId) => NetworkId;
}

/**
 * Reads Istio's node conventions: `id` as `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`
 * (proxyless gRPC may send any id) and metadata keys CLUSTER_ID, NETWORK, NAMESPACE,
 * LABELS, SERVICE_ACCOUNT.
 */
export function proxyFromNode(node: NodeMessage, defaults: ProxyDefaults): ProxyNode {
  const id = node.id ?? '';
  const meta = structToPlain(node.metadata);
  const parts = id.split('~');
  const istioForm = parts.length === 4 && (parts[0] === 'sidecar' || parts[0] === 'router');
  const type = istioForm ? (parts[0] === 'router' ? ProxyType.Router : ProxyType.Sidecar) : ProxyType.ProxylessGrpc;
  const namespace =
    stringOf(meta['NAMESPACE']) ?? (istioForm ? parts[3]?.split('.')[0] : undefined) ?? 'default';
  const cluster = stringOf(meta['CLUSTER_ID']) ?? defaults.cluster;
  const labelsValue = meta['LABELS'];
  const labels: Record<string, string> = {};
  if (labelsValue && typeof labelsValue === 'object') {
    for (const [k, v] of Object.entries(labelsValue)) if (typeof v === 'string') labels[k] = v;
  }
  const serviceAccount = stringOf(meta['SERVICE_ACCOUNT']);
  const ips = stringOf(meta['INSTANCE_IPS'])?.split(',') ?? (istioForm && parts[1] ? [parts[1]] : []);
  return {
    id,
    type,
    cluster,
    network: stringOf(meta['NETWORK']) ?? defaults.networkOf(cluster),
    namespace,
    locality: node.locality
      ? { region: node.locality.region ?? '', zone: node.locality.zone ?? '', subzone: node.locality.sub_zone ?? '' }
      : EMPTY_LOCALITY,
    ipAddresses: ips,
    labels,
    ...(serviceAccount ? { serviceAccount } : {}),
  };
}

function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `google.protobuf.Struct` as protobufjs decodes it (`fields`/`*_value`), or already plain. */
export function structToPlain(value: unknown): Record<string, unknown> {
  if (!value || typeof value !== 'object') return {};
  const fields = (value as { fields?: Record<string, unknown> }).fields;
  if (!fields) return value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToPlain(v);
  return out;
}

/**
 * protobufjs loads google/protobuf/struct.proto from its bundled, camelCase definitions even
 * when the rest of the root keeps snake_case, so a decoded Value may use either spelling.
 */
function valueToPlain(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const val = v as Record<string, unknown>;
  const field = (snake: string, camel: string) => (snake in val ? val[snake] : val[camel]);
  const str = field('string_value', 'stringValue');
  if (str !== undefined) return str;
  const num = field('number_value', 'numberValue');
  if (num !== undefined) return num;
  const bool = field('bool_value', 'boolValue');
  if (bool !== undefined) return bool;
  const struct = field('struct_value', 'structValue');
  if (struct !== undefined) return structToPlain(struct);
  const list = field('list_value', 'listValue') as { values?: unknown[] } | undefined;
  if (list !== undefined) return (list.values ?? []).map(valueToPlain);
  return null;
}
