// Turns a URL into what the request is about, following apiserver's RequestInfo
// rules: /api/v1 for the core group, /apis/<group>/<version> for the others,
// optional /namespaces/<ns>, then resource[/name[/subresource]].
import type { Verb } from './types.ts';

export type RequestInfo =
  | { kind: 'discovery'; group?: string; version?: string; root: 'api' | 'apis' }
  | { kind: 'nonresource'; path: string }
  | {
      kind: 'resource';
      verb: Verb;
      group: string;
      version: string;
      namespace: string;
      resource: string;
      name?: string;
      subresource?: string;
      /** `…/pods/<name>[:<port>]/proxy/<path>`: the path the API server proxies to. */
      proxyPath?: string;
    };

// Subresources of a namespace object itself, not resources inside it.
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function isWatchParam(v: string | null): boolean {
  return v === 'true' || v === '1';
}

export function parseRequestInfo(method: string, url: URL): RequestInfo | undefined {
  const parts = url.pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === 'api') {
    group = '';
    version = parts[1];
    rest = parts.slice(2);
    if (version === undefined) return { kind: 'discovery', root: 'api' };
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    version = parts[2];
    rest = parts.slice(3);
    if (!group) return { kind: 'discovery', root: 'apis' };
    if (version === undefined) return { kind: 'discovery', root: 'apis', group };
  } else {
    return { kind: 'nonresource', path: url.pathname };
  }
  if (rest.length === 0) return { kind: 'discovery', root: parts[0] === 'api' ? 'api' : 'apis', group, version };

  let watch = isWatchParam(url.searchParams.get('watch'));
  // Legacy /watch/ prefix paths, still served by real API servers.
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    const ns = rest[1] ?? '';
    if (rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2] ?? '')) {
      namespace = ns;
      rest = rest.slice(2);
    }
  }
  // The proxy subresource takes the rest of the path as the target's (`pods/web-0:8080/proxy/healthz`).
  const proxyPath = rest[2] === 'proxy' && rest.length > 3 ? `/${rest.slice(3).join('/')}` : undefined;
  if (proxyPath !== undefined) rest = rest.slice(0, 3);
  if (rest.length === 0 || rest.length > 3) return undefined;
  const [resource = '', name, subresource] = rest;

  let verb: Verb;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = watch ? 'watch' : name === undefined ? 'list' : 'get';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name === undefined ? 'deletecollection' : 'delete';
      break;
    default:
      return undefined;
  }
  return {
    kind: 'resource',
    verb,
    group,
    version,
    namespace,
    resource,
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
    ...(proxyPath !== undefined ? { proxyPath } : subresource === 'proxy' ? { proxyPath: '/' } : {}),
  };
}
