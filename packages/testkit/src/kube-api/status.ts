// Builders for the `kind: Status` bodies a real API server sends. Reasons and
// messages follow apimachinery's wording so client code that matches on them
// behaves the same here as against a real cluster.
import type { ApiResult, StatusBody } from './types.ts';

interface Target {
  group: string;
  resource: string;
  name?: string;
}

function qualified(t: Target): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}

export function failure(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
    ...(details ? { details } : {}),
  };
}

export function fail<T>(status: StatusBody): ApiResult<T> {
  return { ok: false, status };
}

export function ok<T>(value: T): ApiResult<T> {
  return { ok: true, value };
}

export const Statuses = {
  notFound: (t: Target): StatusBody =>
    failure(404, 'NotFound', `${qualified(t)} "${t.name ?? ''}" not found`, {
      ...(t.name !== undefined ? { name: t.name } : {}),
      ...(t.group ? { group: t.group } : {}),
      kind: t.resource,
    }),
  alreadyExists: (t: Target): StatusBody =>
    failure(409, 'AlreadyExists', `${qualified(t)} "${t.name ?? ''}" already exists`, {
      ...(t.name !== undefined ? { name: t.name } : {}),
      ...(t.group ? { group: t.group } : {}),
      kind: t.resource,
    }),
  conflict: (t: Target, why: string): StatusBody =>
    failure(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(t)} "${t.name ?? ''}": ${why}`,
      { ...(t.name !== undefined ? { name: t.name } : {}), ...(t.group ? { group: t.group } : {}), kind: t.resource },
    ),
  invalid: (message: string): StatusBody => failure(422, 'Invalid', message),
  badRequest: (message: string): StatusBody => failure(400, 'BadRequest', message),
  // A watch or list from a compacted resourceVersion: the reason is Expired, as
  // the watch cache sends it; client-node only looks at code 410.
  expired: (message: string): StatusBody => failure(410, 'Expired', message),
  gone: (message: string): StatusBody => failure(410, 'Gone', message),
  unauthorized: (): StatusBody => failure(401, 'Unauthorized', 'Unauthorized'),
  forbidden: (user: string, verb: string, t: Target, namespace: string): StatusBody =>
    failure(
      403,
      'Forbidden',
      `${qualified(t)}${t.name ? ` "${t.name}"` : ''} is forbidden: User "${user}" cannot ${verb} resource "${t.resource}" in API group "${t.group}" ${
        namespace ? `in the namespace "${namespace}"` : 'at the cluster scope'
      }`,
      { ...(t.name ? { name: t.name } : {}), ...(t.group ? { group: t.group } : {}), kind: t.resource },
    ),
  methodNotAllowed: (): StatusBody => failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
  pathNotFound: (): StatusBody => failure(404, 'NotFound', 'the server could not find the requested resource'),
  unsupportedMediaType: (type: string): StatusBody =>
    failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json; got ${type}`),
  internal: (message: string): StatusBody => failure(500, 'InternalError', `Internal error occurred: ${message}`),
  serviceUnavailable: (message: string): StatusBody => failure(503, 'ServiceUnavailable', message),
  tooLargeResourceVersion: (rv: number, current: number): StatusBody =>
    failure(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`),
  injected: (code: number): StatusBody =>
    failure(code, code === 503 ? 'ServiceUnavailable' : code === 429 ? 'TooManyRequests' : 'InternalError', `injected fault (HTTP ${code})`),
} as const;
