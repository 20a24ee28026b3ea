/**
 * `meridian proxy-config <proxy> <kind>`: what one proxy was last sent, as tables, like
 * `istioctl proxy-config` reads Envoy's admin — read from Meridian's /debug/config_dump, so
 * it works for proxyless gRPC clients too and needs no access to the pod.
 */
import { errorMessage } from '@meridian/model';
import { formatDocument, table, type OutputFormat } from './cli-ops.ts';
import { debugClient, type DebugServerOptions } from './debug-client.ts';

export const PROXY_CONFIG_KINDS = ['clusters', 'listeners', 'routes', 'endpoints', 'secrets'] as const;
export type ProxyConfigKind = (typeof PROXY_CONFIG_KINDS)[number];

type Json = Record<string, unknown>;
const DUMP_TYPE: Record<ProxyConfigKind, string> = {
  listeners: 'ListenersConfigDump',
  clusters: 'ClustersConfigDump',
  routes: 'RoutesConfigDump',
  endpoints: 'EndpointsConfigDump',
  secrets: 'SecretsConfigDump',
};

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown, fallback = '-'): string => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : fallback);

/** The entries of one kind in a config dump (Envoy's ConfigDump JSON). */
export function dumpEntries(dump: { configs?: unknown[] }, kind: ProxyConfigKind): Json[] {
  const section = arr(dump.configs).find((c) => str(c['@type']).endsWith(`.${DUMP_TYPE[kind]}`)) ?? {};
  switch (kind) {
    case 'listeners':
      return arr(section['dynamic_listeners']).map((l) => obj(obj(l['active_state'])['listener']));
    case 'clusters':
      return arr(section['dynamic_active_clusters']).map((c) => obj(c['cluster']));
    case 'routes':
      return arr(section['dynamic_route_configs']).map((r) => obj(r['route_config']));
    case 'endpoints':
      return arr(section['dynamic_endpoint_configs']).map((e) => obj(e['endpoint_config']));
    case 'secrets':
      return arr(section['dynamic_active_secrets']);
  }
}

/** Rows of the table for one kind: header first. */
export function proxyConfigTable(kind: ProxyConfigKind, entries: readonly Json[]): { header: string[]; rows: string[][] } {
  switch (kind) {
    case 'clusters':
      return {
        header: ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'NAME'],
        rows: entries.map((c) => {
          const name = str(c['name']);
          const [direction, port, subset, host] = name.split('|');
          const istio = direction === 'outbound' || direction === 'inbound';
          return [istio ? str(host) : '-', istio ? str(port) : '-', istio ? str(subset) : '-', istio ? str(direction) : '-', str(c['type'], c['cluster_type'] ? 'CUSTOM' : 'EDS'), name];
        }),
      };
    case 'listeners':
      return {
        header: ['NAME', 'ADDRESS', 'PORT', 'CHAINS', 'FILTERS'],
        rows: entries.map((l) => {
          const socket = obj(obj(l['address'])['socket_address']);
          const chains = arr(l['filter_chains']);
          const api = l['api_listener'] ? ['api_listener'] : [];
          const filters = [...new Set(chains.flatMap((ch) => arr(ch['filters']).map((f) => str(f['name']).replace(/^envoy\.filters\.network\./, ''))))];
          return [str(l['name']), str(socket['address']), str(socket['port_value']), String(chains.length), [...api, ...filters].join(',') || '-'];
        }),
      };
    case 'routes':
      return {
        header: ['NAME', 'VIRTUAL HOST', 'DOMAINS', 'MATCH', 'CLUSTER'],
        rows: entries.flatMap((r) =>
          arr(r['virtual_hosts']).flatMap((vh) => {
            const domains = (Array.isArray(vh['domains']) ? (vh['domains'] as unknown[]) : []).map((d) => str(d));
            const shown = domains.length > 2 ? `${domains.slice(0, 2).join(',')} +${domains.length - 2} more` : domains.join(',') || '-';
            return arr(vh['routes']).map((route) => {
              const match = obj(route['match']);
              const how = match['path'] !== undefined ? `${str(match['path'])}` : match['prefix'] !== undefined ? `${str(match['prefix'], '')}*` : match['safe_regex'] ? `~${str(obj(match['safe_regex'])['regex'])}` : '*';
              const action = obj(route['route']);
              const weighted = arr(obj(action['weighted_clusters'])['clusters']).map((w) => `${str(w['name'])}:${str(w['weight'])}`);
              return [str(r['name']), str(vh['name']), shown, how, weighted.join(',') || str(action['cluster'], route['non_forwarding_action'] ? '(server route)' : '-')];
            });
          }),
        ),
      };
    case 'endpoints':
      return {
        header: ['CLUSTER', 'ENDPOINT', 'HEALTH', 'LOCALITY', 'PRIORITY', 'WEIGHT'],
        rows: entries.flatMap((cla) =>
          arr(cla['endpoints']).flatMap((group) => {
            const loc = obj(group['locality']);
            const locality = [loc['region'], loc['zone'], loc['sub_zone']].map((p) => str(p, '')).join('/').replace(/\/+$/, '') || '-';
            return arr(group['lb_endpoints']).map((e) => {
              const socket = obj(obj(obj(e['endpoint'])['address'])['socket_address']);
              return [str(cla['cluster_name']), `${str(socket['address'])}:${str(socket['port_value'])}`, str(e['health_status'], 'UNKNOWN'), locality, str(group['priority'], '0'), str(obj(e['load_balancing_weight'])['value'] ?? obj(group['load_balancing_weight'])['value'])];
            });
          }),
        ),
      };
    case 'secrets':
      return {
        header: ['NAME', 'VERSION', 'IDENTITY', 'NOT AFTER', 'ROOTS'],
        rows: entries.map((s) => [str(s['name']), str(s['version_info']), str(s['identity']), str(s['not_after']), s['roots'] === undefined ? '-' : str(s['roots'])]),
      };
  }
}

export async function proxyConfigCommand(proxy: string, kind: string, values: DebugServerOptions & { output: OutputFormat }): Promise<number> {
  if (!(PROXY_CONFIG_KINDS as readonly string[]).includes(kind)) {
    process.stderr.write(`unknown kind "${kind}": one of ${PROXY_CONFIG_KINDS.join(', ')}\n`);
    return 2;
  }
  const { base, get } = debugClient(values);
  let dump: { configs?: unknown[] };
  try {
    dump = await get<{ configs?: unknown[] }>(`/debug/config_dump?proxy=${encodeURIComponent(proxy)}`);
  } catch (err) {
    process.stderr.write(`cannot read ${proxy}'s config from ${base}: ${errorMessage(err)}\n`);
    return 1;
  }
  const entries = dumpEntries(dump, kind as ProxyConfigKind);
  if (values.output !== 'table') {
    process.stdout.write(formatDocument(entries, values.output));
    return 0;
  }
  const { header, rows } = proxyConfigTable(kind as ProxyConfigKind, entries);
  process.stdout.write(table(header, rows));
  return 0;
}
