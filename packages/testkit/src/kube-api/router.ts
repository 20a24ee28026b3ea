// The request pipeline, in apiserver's order: log → (injected delay) →
// authenticate → (injected failure) → route → authorize → handle. Each step is
// owned by its own module; this file only wires them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANONYMOUS, bearerToken, type TokenAuthenticator } from './auth.ts';
import type { RuleAuthorizer } from './authz.ts';
import { discoveryDocument, versionDocument, type VersionInfo } from './discovery.ts';
import type { FaultInjector } from './faults.ts';
import { readJsonBody, sendJson, sendStatus, sendText, type Exchange } from './http-util.ts';
import { parseRequestInfo } from './request-info.ts';
import type { RequestLog, RequestRecord } from './request-log.ts';
import type { ResourceRegistry } from './resources.ts';
import { handleStored } from './rest.ts';
import { selfSubjectAccessReview, selfSubjectRulesReview, serviceAccountToken, tokenReview } from './reviews.ts';
import { Statuses } from './status.ts';
import type { ObjectStore } from './store.ts';
import type { ApiResult, KubeObject, UserInfo } from './types.ts';
import type { WatchHub } from './watch.ts';

export interface RouterDeps {
  registry: ResourceRegistry;
  store: ObjectStore;
  watches: WatchHub;
  authn: TokenAuthenticator;
  /** Read per request so tests can flip it at run time. */
  anonymous: () => boolean;
  authz: RuleAuthorizer;
  faults: FaultInjector;
  log: RequestLog;
  version: VersionInfo;
  serverAddress: () => string;
}

const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);

function authenticate(deps: RouterDeps, req: IncomingMessage): UserInfo | undefined {
  const token = bearerToken(req.headers.authorization);
  if (!token) return deps.anonymous() ? ANONYMOUS : undefined;
  const result = deps.authn.authenticate(token);
  return result.ok ? result.user : undefined;
}

function respond(ex: Exchange, result: ApiResult<unknown>, code = 200): void {
  if (result.ok) sendJson(ex, code, result.value);
  else sendStatus(ex, result.status);
}

async function route(deps: RouterDeps, ex: Exchange): Promise<void> {
  const info = parseRequestInfo(ex.req.method ?? 'GET', ex.url);
  if (info?.kind === 'resource') {
    Object.assign(ex.record, {
      verb: info.verb,
      group: info.group,
      resource: info.resource,
      ...(info.subresource !== undefined ? { subresource: info.subresource } : {}),
      ...(info.namespace ? { namespace: info.namespace } : {}),
      ...(info.name !== undefined ? { name: info.name } : {}),
    });
  }
  if (deps.faults.delayMs > 0) await sleep(deps.faults.delayMs);
  await deps.faults.passGates(ex.url.pathname, info);
  if (HEALTH_PATHS.has(ex.url.pathname)) return sendText(ex, 200, 'ok');

  const user = authenticate(deps, ex.req);
  if (user === undefined) return sendStatus(ex, Statuses.unauthorized());
  ex.record.user = user.username;

  if (info !== undefined) {
    const injected = deps.faults.takeFailure(ex.url.pathname, info);
    if (injected !== undefined) return sendStatus(ex, Statuses.injected(injected));
  }
  if (info === undefined) return sendStatus(ex, Statuses.pathNotFound());
  if (info.kind === 'nonresource') {
    if (ex.url.pathname === '/version' || ex.url.pathname === '/version/') return sendJson(ex, 200, versionDocument(deps.version));
    return sendStatus(ex, Statuses.pathNotFound());
  }
  if (info.kind === 'discovery') return respond(ex, discoveryDocument(deps.registry, info, deps.serverAddress()));

  const rt = deps.registry.byPath(info.group, info.version, info.resource);
  if (rt === undefined) return sendStatus(ex, Statuses.pathNotFound());
  const resourceForAuthz = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  const allowed = deps.authz.allows(user, {
    verb: info.verb,
    group: info.group,
    resource: resourceForAuthz,
    namespace: info.namespace,
    ...(info.name !== undefined ? { name: info.name } : {}),
  });
  if (!allowed) {
    return sendStatus(
      ex,
      Statuses.forbidden(user.username, info.verb, { group: info.group, resource: resourceForAuthz, ...(info.name !== undefined ? { name: info.name } : {}) }, info.namespace),
    );
  }

  if (rt.group === '' && rt.resource === 'pods' && info.subresource === 'proxy') {
    if (info.verb !== 'get') return sendStatus(ex, Statuses.methodNotAllowed());
    return proxyToPod(ex, deps.store.get(rt, info.namespace, (info.name ?? '').split(':')[0] ?? ''), info.name ?? '', info.proxyPath ?? '/');
  }
  if (rt.storage === 'stored' && !(rt.group === '' && rt.resource === 'serviceaccounts' && info.subresource === 'token')) {
    return handleStored(ex, info, rt, deps.store, deps.watches);
  }
  if (info.verb !== 'create') return sendStatus(ex, Statuses.methodNotAllowed());
  const body = await readJsonBody(ex.req);
  if (!body.ok) return sendStatus(ex, Statuses.badRequest(body.error));
  const obj: KubeObject = body.value !== null && typeof body.value === 'object' ? (body.value as KubeObject) : {};
  if (rt.storage === 'stored') {
    return respond(ex, serviceAccountToken(deps.store, deps.authn, rt, info.namespace, info.name ?? '', obj), 201);
  }
  switch (rt.resource) {
    case 'tokenreviews':
      return respond(ex, tokenReview(deps.authn, obj), 201);
    case 'selfsubjectrulesreviews':
      return respond(ex, selfSubjectRulesReview(deps.authz, user, obj), 201);
    case 'selfsubjectaccessreviews':
      return respond(ex, selfSubjectAccessReview(deps.authz, user, obj), 201);
    default:
      return sendStatus(ex, Statuses.methodNotAllowed());
  }
}

/**
 * `GET …/pods/<name>[:<port>]/proxy/<path>`: the request forwarded to the pod's IP
 * (`status.podIP`) and port (default 80), its answer passed back as the pod gave it; 503 when
 * the pod has no IP or does not answer, as apiserver says.
 */
async function proxyToPod(ex: Exchange, pod: KubeObject | undefined, target: string, path: string): Promise<void> {
  const [name = '', port = '80'] = target.split(':');
  if (!pod) return sendStatus(ex, Statuses.notFound({ group: '', resource: 'pods', name }));
  const ip = (pod as { status?: { podIP?: string } }).status?.podIP;
  if (!ip) return sendStatus(ex, Statuses.serviceUnavailable(`pod ${name} has no IP address`));
  try {
    const res = await fetch(`http://${ip.includes(':') ? `[${ip}]` : ip}:${port}${path}${ex.url.search}`, { signal: AbortSignal.timeout(10_000) });
    const body = Buffer.from(await res.arrayBuffer());
    ex.res.writeHead(res.status, { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' });
    ex.res.end(body);
    ex.record.status = res.status;
  } catch (err) {
    return sendStatus(ex, Statuses.serviceUnavailable(`error trying to reach service: ${err instanceof Error ? err.message : String(err)}`));
  }
}

export function createRequestHandler(deps: RouterDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: RequestRecord = {
      time: Date.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
    };
    deps.log.add(record);
    const ex: Exchange = { req, res, url, record, closed: false };
    res.on('close', () => (ex.closed = true));
    route(deps, ex).catch((err: unknown) => {
      // Never let a handler bug crash the test process: answer like apiserver does.
      sendStatus(ex, Statuses.internal(err instanceof Error ? err.message : String(err)));
    });
  };
}
