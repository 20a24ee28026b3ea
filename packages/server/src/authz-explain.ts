/**
 * The access explainer: may this caller reach that service, and which rule says so. It reads
 * the same push snapshot the RBAC compilers read (merged policies, mTLS modes, endpoints and
 * their labels) and decides with the policy package's evaluator, so its answer is the one the
 * proxies enforce. `meridian authz check` and `/debug/authz` print it.
 */
import { PeerMtlsMode, type Endpoint, type PolicySource, type Service, type ServicePort } from '@meridian/model';
import { evaluateAuthorization, type AuthzMatch, type AuthzRequest } from '@meridian/policy';
import { trafficProtocol, TrafficProtocol, type PushSnapshot } from '@meridian/xds';
import { HttpErrorCode, problem, type Problem } from './http-problem.ts';

export interface AccessQuery {
  /** A SPIFFE ID, `<trust-domain>/ns/<ns>/sa/<sa>`, a pod as `<name>.<namespace>`, or a pod IP. */
  readonly from: string;
  /** `<host>[:<port>]`: a hostname, or `<name>.<namespace>`. */
  readonly to: string;
  readonly method?: string;
  readonly path?: string;
  /** Header names in any case. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A validated JWT's `iss/sub`, as RequestAuthentication would have it. */
  readonly requestPrincipal?: string;
}

/** A query that names nothing the mesh has: `field` is the parameter to fix. */
export class AccessQueryError extends Error {
  readonly field: 'from' | 'to';
  constructor(field: 'from' | 'to', message: string) {
    super(message);
    this.field = field;
  }
}

export interface CallerView {
  readonly principal: string;
  /** The pod, when `from` named one: `<name>.<namespace>`, its cluster and address. */
  readonly workload?: { readonly pod: string; readonly cluster: string; readonly address: string };
}

export interface DecidingRule {
  readonly policy: string;
  readonly action: string;
  readonly rule: number;
}

/** One group of the service's endpoints that the same policies decide the same way. */
export interface WorkloadDecision {
  readonly cluster: string;
  readonly endpoints: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly port: number;
  readonly mtls: PeerMtlsMode;
  readonly allowed: boolean;
  readonly reason: string;
  readonly decidedBy?: DecidingRule;
  /** AUDIT and dry-run policies that matched: what they would have done. */
  readonly wouldMatch: readonly DecidingRule[];
  /** Every AuthorizationPolicy that applies to these endpoints, in evaluation order. */
  readonly policies: readonly string[];
}

export interface AccessExplanation {
  readonly from: CallerView;
  readonly to: { readonly service: string; readonly port: number; readonly protocol: 'http' | 'tcp' };
  /** `all`, `none` or `some` of the endpoints admit the caller; `no-endpoints` when there are none. */
  readonly verdict: 'all' | 'none' | 'some' | 'no-endpoints';
  readonly workloads: readonly WorkloadDecision[];
}

export function explainAccess(snapshot: PushSnapshot, query: AccessQuery): AccessExplanation {
  const caller = resolveCaller(snapshot, query.from);
  const { service, port } = resolveTarget(snapshot, query.to);
  const protocol = trafficProtocol(port) === TrafficProtocol.Tcp ? 'tcp' : 'http';
  const callerSpeaksMtls = snapshot.strict(service.hostname);
  const groups = new Map<string, { decision: Omit<WorkloadDecision, 'endpoints'>; endpoints: string[] }>();
  for (const e of snapshot.endpoints(service.hostname)) {
    if (e.portName !== port.name) continue;
    const workload = { namespace: service.namespace, labels: e.labels ?? {} };
    const policies = snapshot.authorizationFor(workload);
    const mtls = snapshot.inboundMtls(workload, e.port, [service.hostname]);
    const decision = ((): Omit<WorkloadDecision, 'endpoints'> => {
      const base = { cluster: e.cluster, labels: workload.labels, port: e.port, mtls, policies: policies.map((p) => policyName(p.source)) };
      const refused = transportRefusal(mtls, callerSpeaksMtls, service.hostname);
      if (refused) return { ...base, allowed: false, reason: refused, wouldMatch: [] };
      const principal = mtls === PeerMtlsMode.Disable || !callerSpeaksMtls ? undefined : caller.principal;
      const request: AuthzRequest = {
        protocol,
        destinationPort: e.port,
        destinationIp: e.address,
        ...(principal ? { principal } : {}),
        ...(caller.workload ? { sourceIp: caller.workload.address } : {}),
        ...(protocol === 'http'
          ? {
              host: service.hostname,
              method: query.method ?? 'GET',
              path: query.path ?? '/',
              headers: Object.fromEntries(Object.entries(query.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
              ...(query.requestPrincipal ? { requestPrincipal: query.requestPrincipal } : {}),
            }
          : {}),
      };
      const d = evaluateAuthorization(policies, request, { trustDomain: snapshot.trustDomain, trustDomainAliases: snapshot.trustDomainAliases });
      const plaintext = principal === undefined ? ' (plaintext: the caller has no peer identity here)' : '';
      return { ...base, allowed: d.allowed, reason: d.reason + plaintext, ...(d.decidedBy ? { decidedBy: rule(d.decidedBy) } : {}), wouldMatch: d.shadow.map(rule) };
    })();
    const key = JSON.stringify(decision);
    const group = groups.get(key);
    if (group) group.endpoints.push(endpointName(e));
    else groups.set(key, { decision, endpoints: [endpointName(e)] });
  }
  const workloads = [...groups.values()].map(({ decision, endpoints }) => ({ ...decision, endpoints: endpoints.sort() }));
  const allowed = workloads.filter((w) => w.allowed).length;
  const verdict = workloads.length === 0 ? 'no-endpoints' : allowed === workloads.length ? 'all' : allowed === 0 ? 'none' : 'some';
  return { from: caller, to: { service: service.hostname, port: port.port, protocol }, verdict, workloads };
}

/** Why no request gets through at all: the two sides disagree on TLS. */
function transportRefusal(mtls: PeerMtlsMode, callerSpeaksMtls: boolean, hostname: string): string | undefined {
  if (mtls === PeerMtlsMode.Strict && !callerSpeaksMtls) return `the port accepts mTLS only and callers speak plaintext to ${hostname}: the connection is refused`;
  if (mtls === PeerMtlsMode.Disable && callerSpeaksMtls) return `callers speak mTLS to ${hostname} but this workload's port serves plaintext (a workload-level DISABLE under a STRICT namespace): the connection fails`;
  return undefined;
}

function rule(m: AuthzMatch): DecidingRule {
  return { policy: policyName(m.policy), action: m.dryRun ? `${m.action} (dry-run)` : m.action, rule: m.rule };
}

function policyName(s: PolicySource): string {
  return `${s.namespace}/${s.name}`;
}

function endpointName(e: Endpoint): string {
  return e.pod ? `${e.pod} (${e.address})` : e.address;
}

const SPIFFE_PATH = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

function resolveCaller(snapshot: PushSnapshot, from: string): CallerView {
  const bare = from.startsWith('spiffe://') ? from.slice('spiffe://'.length) : from;
  if (SPIFFE_PATH.test(bare)) return { principal: `spiffe://${bare}` };
  // A pod as `<name>.<namespace>` (how it is addressed) or `<namespace>/<name>` (how endpoints name it).
  const dotted = /^([^./]+)\.([^./]+)$/.exec(from);
  const pod = dotted ? `${dotted[2]}/${dotted[1]}` : /^[^./]+\/[^./]+$/.test(from) ? from : undefined;
  for (const s of snapshot.services) {
    if (pod && !pod.startsWith(`${s.namespace}/`)) continue;
    const e = snapshot.endpoints(s.hostname).find((ep) => (pod ? ep.pod === pod : ep.address === from));
    if (e) {
      const sa = e.serviceAccount ?? 'default';
      return { principal: `spiffe://${snapshot.trustDomain}/ns/${s.namespace}/sa/${sa}`, workload: { pod: e.pod ?? e.address, cluster: e.cluster, address: e.address } };
    }
  }
  throw new AccessQueryError('from', `no workload ${from} in any cluster: give a SPIFFE ID, <trust-domain>/ns/<ns>/sa/<sa>, a pod as <name>.<namespace> or <namespace>/<name>, or a pod IP`);
}

function resolveTarget(snapshot: PushSnapshot, to: string): { service: Service; port: ServicePort } {
  const m = /^(.+?)(?::(\d+))?$/.exec(to);
  const host = m?.[1] ?? to;
  if (!host.includes('.')) throw new AccessQueryError('to', `${host}: give the service as <name>.<namespace> or its hostname`);
  const lower = host.toLowerCase();
  const hostname = lower.split('.').length === 2 ? `${lower}.svc.${snapshot.domainSuffix}` : lower;
  const service = snapshot.service(hostname);
  if (!service) throw new AccessQueryError('to', `no service ${hostname} in any cluster (see /debug/registryz)`);
  const ports = service.ports.map((p) => p.port).join(', ');
  if (m?.[2] === undefined) {
    const [only, ...more] = service.ports;
    if (!only || more.length) throw new AccessQueryError('to', `${hostname} has ports ${ports}: give one as ${host}:<port>`);
    return { service, port: only };
  }
  const port = service.ports.find((p) => p.port === Number(m[2]));
  if (!port) throw new AccessQueryError('to', `${hostname} has no port ${m[2]} (ports: ${ports})`);
  return { service, port };
}

/** Request headers given as `name: value` lines (`/debug/authz?headers=`, `--header`). */
export function parseHeaderLines(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`"${line}" is not NAME:VALUE`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export function headerLinesError(text: string): string | undefined {
  try {
    parseHeaderLines(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `/debug/authz?from=&to=`: the explanation, or a 404 naming the parameter that names nothing. */
export function authzView(snapshot: PushSnapshot, query: Record<string, string>): AccessExplanation | Problem {
  try {
    return explainAccess(snapshot, {
      from: query['from'] ?? '',
      to: query['to'] ?? '',
      ...(query['method'] ? { method: query['method'] } : {}),
      ...(query['path'] ? { path: query['path'] } : {}),
      ...(query['headers'] ? { headers: parseHeaderLines(query['headers']) } : {}),
      ...(query['requestPrincipal'] ? { requestPrincipal: query['requestPrincipal'] } : {}),
    });
  } catch (err) {
    if (err instanceof AccessQueryError) return problem(404, HttpErrorCode.NotFound, err.message, { parameter: err.field });
    throw err;
  }
}
