/**
 * ServiceEntries → services of the mesh (Istio's ServiceEntry registry): one service per
 * host, its ports, and its endpoints as the resolution says. A host a Kubernetes Service
 * already has is left to that Service by the push snapshot; two entries naming one host are
 * resolved here, the first by namespace/name keeping it.
 */
import { isIP } from 'node:net';
import {
  ClientKind,
  EntryResolution,
  EMPTY_LOCALITY,
  Health,
  type Endpoint,
  type EntryService,
  type Locality,
  type ServicePort,
} from '@meridian/model';
import type { PolicyObjectOf, PolicyRef } from '../policy-object.ts';
import { resolveHost } from './hosts.ts';
import { ProblemSeverity, type CompileProblem } from './problems.ts';
import type { ObjectLimits } from './traffic-policies.ts';

type ServiceEntryObject = PolicyObjectOf<'ServiceEntry'>;
type EntryPortSpec = NonNullable<ServiceEntryObject['spec']['ports']>[number];
type EntryEndpointSpec = NonNullable<ServiceEntryObject['spec']['endpoints']>[number];

export interface CompiledServiceEntries {
  readonly entries: readonly EntryService[];
  readonly problems: readonly CompileProblem[];
  readonly limits: readonly ObjectLimits[];
}

/**
 * What each ServiceEntry protocol is to Meridian's proxies (as a port's `appProtocol`): HTTP
 * kinds are routed by Host, TLS kinds by SNI, the rest by address.
 */
const APP_PROTOCOL: Readonly<Record<string, string>> = {
  HTTP: 'http',
  'GRPC-WEB': 'grpc-web',
  HTTP2: 'http2',
  GRPC: 'grpc',
  HTTPS: 'tls',
  TLS: 'tls',
  TCP: 'tcp',
  MONGO: 'tcp',
  MYSQL: 'tcp',
  REDIS: 'tcp',
};

export function compileServiceEntries(objects: readonly ServiceEntryObject[], options: { readonly domainSuffix: string }): CompiledServiceEntries {
  const problems: CompileProblem[] = [];
  const limits: ObjectLimits[] = [];
  const entries: EntryService[] = [];
  const owner = new Map<string, PolicyRef>();
  const ordered = [...objects].sort((a, b) => compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  for (const object of ordered) {
    const ref: PolicyRef = { kind: object.kind, namespace: object.namespace, name: object.name };
    const report = (path: string, message: string, severity: ProblemSeverity = ProblemSeverity.Part) => problems.push({ ref, path, message, severity });
    const { spec } = object;
    const ports = entryPorts(spec.ports ?? [], report);
    if (ports.length === 0) {
      report('spec.ports', 'no port a proxy can carry: the entry is not applied', ProblemSeverity.Error);
      continue;
    }
    const resolution = spec.resolution ?? EntryResolution.None;
    const external = (spec.location ?? 'MESH_EXTERNAL') === 'MESH_EXTERNAL';
    if (spec.subjectAltNames?.length) report('spec.subjectAltNames', 'not applied: a MESH_INTERNAL entry is checked against its endpoints\' service accounts');
    spec.endpoints?.forEach((e, i) => {
      if (e.weight !== undefined) report(`spec.endpoints[${i}].weight`, 'endpoint weights are not applied: every endpoint of a locality weighs the same');
    });
    if (resolution === EntryResolution.DnsRoundRobin && (spec.endpoints?.length ?? 0) > 1) {
      report('spec.endpoints', 'DNS_ROUND_ROBIN resolves one name: only the first endpoint is used');
    }
    if (!spec.addresses?.length) {
      ports.forEach(({ port }) => {
        if (port.appProtocol === 'tcp') report(`spec.ports[${(spec.ports ?? []).findIndex((p) => p.name === port.name)}]`, `TCP port ${port.port} without addresses: no address picks the host on it, so sidecars pass such connections through as to any unknown destination`);
      });
    }
    const visibleIn = visibility(spec.exportTo, object.namespace);
    const grpc = grpcLimits(resolution, spec.endpoints ?? []);
    if (grpc.length) limits.push({ ref, client: ClientKind.Grpc, omit: grpc, ignored: [] });

    spec.hosts.forEach((host, i) => {
      const hostname = resolveHost(host, object.namespace, options.domainSuffix);
      if (hostname.includes('*')) {
        report(`spec.hosts[${i}]`, `wildcard host ${host} is not applied yet`);
        return;
      }
      const earlier = owner.get(hostname);
      if (earlier) {
        report(`spec.hosts[${i}]`, `host ${hostname} is already defined by ServiceEntry ${earlier.namespace}/${earlier.name}; this definition is not applied`);
        return;
      }
      owner.set(hostname, ref);
      const endpoints = spec.workloadSelector ? [] : entryEndpoints(spec.endpoints ?? [], { hostname, resolution, ports }, (path, message) => report(path, message));
      const serviceAccounts = [...new Set(endpoints.flatMap((e) => (e.serviceAccount ? [e.serviceAccount] : [])))].sort();
      entries.push({
        service: {
          hostname,
          name: hostname,
          namespace: object.namespace,
          ports: ports.map((p) => p.port),
          clusters: [],
          addresses: spec.addresses?.length ? { '': spec.addresses } : {},
          serviceAccounts,
          entry: { source: `${object.namespace}/${object.name}`, resolution, external, ...(visibleIn ? { visibleIn } : {}) },
        },
        endpoints,
        ...(spec.workloadSelector ? { workloadSelector: { labels: spec.workloadSelector.labels ?? {}, targetPorts: new Map(ports.map((p) => [p.port.name, p.target])) } } : {}),
      });
    });
  }
  return { entries, problems, limits };
}

interface EntryPort {
  readonly port: ServicePort;
  /** Where endpoints listen when they do not say (`targetPort`, else the port itself). */
  readonly target: number;
}

function entryPorts(ports: readonly EntryPortSpec[], report: (path: string, message: string) => void): EntryPort[] {
  return ports.flatMap((p, i): EntryPort[] => {
    const protocol = (p.protocol ?? 'TCP').toUpperCase();
    const appProtocol = APP_PROTOCOL[protocol];
    if (!appProtocol) {
      report(`spec.ports[${i}].protocol`, `${protocol} is not proxied: the port is not applied`);
      return [];
    }
    return [{ port: { name: p.name, port: p.number, protocol: 'TCP', appProtocol, ...(p.targetPort ? { targetPort: p.targetPort } : {}) }, target: p.targetPort ?? p.number }];
  });
}

/**
 * One endpoint per entry endpoint and port. STATIC endpoints are IP addresses; DNS ones are
 * names (or addresses) the client resolves, the host itself when the entry lists none.
 * NONE has no endpoints: the connection goes where it was sent.
 */
function entryEndpoints(
  specs: readonly EntryEndpointSpec[],
  entry: { hostname: string; resolution: EntryResolution; ports: readonly EntryPort[] },
  report: (path: string, message: string) => void,
): Endpoint[] {
  if (entry.resolution === EntryResolution.None) return [];
  const listed: readonly EntryEndpointSpec[] = specs.length === 0 && entry.resolution !== EntryResolution.Static ? [{ address: entry.hostname }] : specs;
  const chosen = entry.resolution === EntryResolution.DnsRoundRobin ? listed.slice(0, 1) : listed;
  return chosen.flatMap((spec, i) => {
    const address = spec.address ?? '';
    if (address.startsWith('unix://')) {
      report(`spec.endpoints[${i}].address`, 'unix domain socket endpoints are not applied');
      return [];
    }
    if (entry.resolution === EntryResolution.Static && !isIP(address)) return [];
    return entry.ports.map(({ port, target }) => ({
      address,
      port: spec.ports?.[port.name] ?? target,
      portName: port.name,
      cluster: '',
      network: spec.network ?? '',
      locality: spec.locality ? parseLocality(spec.locality) : EMPTY_LOCALITY,
      health: Health.Healthy,
      ...(spec.serviceAccount ? { serviceAccount: spec.serviceAccount } : {}),
      ...(spec.labels ? { labels: spec.labels } : {}),
    }));
  });
}

/**
 * What a gRPC client cannot be given: it has no original destination to pass a connection
 * through to, and its logical DNS cluster holds exactly one name.
 */
function grpcLimits(resolution: EntryResolution, endpoints: readonly EntryEndpointSpec[]): string[] {
  if (resolution === EntryResolution.None) return ['spec.resolution: NONE has no endpoints for a gRPC client to call; the hosts are not sent to gRPC clients'];
  if (resolution === EntryResolution.Dns && endpoints.length > 1) return ['spec.endpoints: a gRPC client resolves one DNS name per cluster; the hosts are not sent to gRPC clients'];
  return [];
}

/** `exportTo` as the namespaces that see the entry; undefined: all of them. */
function visibility(exportTo: readonly string[] | undefined, namespace: string): string[] | undefined {
  if (!exportTo?.length || exportTo.includes('*')) return undefined;
  return [...new Set(exportTo.filter((e) => e !== '~').map((e) => (e === '.' ? namespace : e)))].sort();
}

/** `region/zone/subzone`, any part may be missing. */
function parseLocality(text: string): Locality {
  const [region = '', zone = '', subzone = ''] = text.split('/');
  return { region, zone, subzone };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
