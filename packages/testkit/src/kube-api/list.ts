// LIST semantics: selectors, resourceVersion / resourceVersionMatch, and
// limit/continue paging over a consistent snapshot, with etcd's rule that a
// continue token older than the compaction point is 410 Expired.
import { apiVersionOf, type ResourceType } from './resources.ts';
import { matchesFilter, parseFilter } from './selectors.ts';
import { fail, ok, Statuses } from './status.ts';
import type { ObjectStore } from './store.ts';
import type { ApiResult, KubeObject } from './types.ts';

export interface ListBody {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

interface ContinueToken {
  v: 'meta.k8s.io/v1';
  rv: number;
  /** List from this key on (inclusive); the last key served plus a NUL, as apiserver does. */
  start: string;
}

export function encodeContinue(rv: number, lastKey: string): string {
  const token: ContinueToken = { v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(value: string): ContinueToken | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (parsed.v !== 'meta.k8s.io/v1' || typeof parsed.rv !== 'number' || typeof parsed.start !== 'string') return undefined;
    return { v: parsed.v, rv: parsed.rv, start: parsed.start };
  } catch {
    return undefined;
  }
}

/** Items of a typed list carry no apiVersion/kind on a real server; the list does. */
function asListItem(obj: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return structuredClone(rest);
}

export function parseRv(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

export function listObjects(store: ObjectStore, rt: ResourceType, namespace: string, params: URLSearchParams): ApiResult<ListBody> {
  const filter = parseFilter(params.get('labelSelector'), params.get('fieldSelector'));
  if (!filter.ok) return fail(Statuses.badRequest(filter.error));
  const limitParam = params.get('limit');
  const limit = limitParam ? Number(limitParam) : 0;
  if (!Number.isInteger(limit) || limit < 0) return fail(Statuses.badRequest(`invalid limit "${limitParam ?? ''}"`));

  let atRv: number | undefined;
  let start = '';
  const cont = params.get('continue');
  if (cont) {
    const token = decodeContinue(cont);
    if (token === undefined) return fail(Statuses.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)'));
    if (token.rv < store.compactedResourceVersion) {
      const status = Statuses.expired(
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
      );
      // Like apiserver, offer a token that resumes at the same key on current data.
      status.metadata.continue = Buffer.from(JSON.stringify({ ...token, rv: store.resourceVersion })).toString('base64url');
      return fail(status);
    }
    atRv = token.rv;
    start = token.start;
  } else {
    const rv = parseRv(params.get('resourceVersion'));
    if (Number.isNaN(rv)) return fail(Statuses.badRequest(`invalid resourceVersion "${params.get('resourceVersion') ?? ''}"`));
    if (rv !== undefined && rv > store.resourceVersion) return fail(Statuses.tooLargeResourceVersion(rv, store.resourceVersion));
    // Only Exact asks for the past; unset/NotOlderThan/"0" are served from the latest state.
    if (rv !== undefined && rv !== 0 && params.get('resourceVersionMatch') === 'Exact') atRv = rv;
  }

  const listed = store.list(rt, namespace || undefined, atRv);
  if (!listed.ok) return listed;
  const matching = listed.value.items.filter(([key, obj]) => key >= start && matchesFilter(filter.value, obj));
  const page = limit > 0 ? matching.slice(0, limit) : matching;
  const rest = matching.length - page.length;
  const last = page[page.length - 1];
  const metadata: ListBody['metadata'] = { resourceVersion: String(listed.value.rv) };
  if (rest > 0 && last !== undefined) {
    metadata.continue = encodeContinue(listed.value.rv, last[0]);
    metadata.remainingItemCount = rest;
  }
  return ok({ kind: rt.listKind, apiVersion: apiVersionOf(rt), metadata, items: page.map(([, o]) => asListItem(o)) });
}
