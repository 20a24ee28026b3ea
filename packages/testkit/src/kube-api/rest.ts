// CRUD verbs on stored resources: get, list, watch, create, update, patch,
// delete, deletecollection, plus the status subresource. Input checks mirror
// apiserver's (name/namespace mismatches, optimistic concurrency, patch types).
import { readJsonBody, sendJson, sendStatus, type Exchange } from './http-util.ts';
import { listObjects } from './list.ts';
import { jsonPatch, mergePatch, patchTypeOf, PatchType } from './patch.ts';
import type { RequestInfo } from './request-info.ts';
import { SUBRESOURCES, type ResourceType } from './resources.ts';
import { parseFilter } from './selectors.ts';
import { Statuses } from './status.ts';
import type { ObjectStore, Preconditions, UpdateScope } from './store.ts';
import type { KubeObject } from './types.ts';
import type { WatchHub } from './watch.ts';

type ResourceInfo = Extract<RequestInfo, { kind: 'resource' }>;

function isObject(v: unknown): v is KubeObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function hasStatusSubresource(rt: ResourceType): boolean {
  return SUBRESOURCES.some((s) => s.parent === rt.resource && s.group === rt.group && s.name === 'status');
}

function scopeOf(rt: ResourceType, info: ResourceInfo): UpdateScope {
  if (info.subresource === 'status') return 'status';
  return hasStatusSubresource(rt) ? 'main' : 'all';
}

/** Checks the body against the URL the way apiserver does before it touches storage. */
function checkBody(ex: Exchange, rt: ResourceType, info: ResourceInfo, body: unknown): body is KubeObject {
  if (!isObject(body)) {
    sendStatus(ex, Statuses.badRequest('the request body must be a JSON object'));
    return false;
  }
  if (body.kind !== undefined && body.kind !== rt.kind) {
    sendStatus(ex, Statuses.badRequest(`the kind of the provided object (${String(body.kind)}) does not match the resource (${rt.kind})`));
    return false;
  }
  const ns = body.metadata?.namespace;
  if (rt.namespaced && ns !== undefined && ns !== '' && ns !== info.namespace) {
    sendStatus(ex, Statuses.badRequest('the namespace of the provided object does not match the namespace sent on the request'));
    return false;
  }
  const name = body.metadata?.name;
  if (info.name !== undefined && name !== undefined && name !== info.name) {
    sendStatus(ex, Statuses.badRequest(`the name of the object (${name}) does not match the name on the URL (${info.name})`));
    return false;
  }
  return true;
}

export async function handleStored(ex: Exchange, info: ResourceInfo, rt: ResourceType, store: ObjectStore, watches: WatchHub): Promise<void> {
  if (info.subresource !== undefined && !(info.subresource === 'status' && hasStatusSubresource(rt))) {
    sendStatus(ex, Statuses.pathNotFound());
    return;
  }
  // Cluster-scoped kinds have no namespaced URLs; single namespaced objects have no cluster-wide ones.
  if ((!rt.namespaced && info.namespace) || (rt.namespaced && !info.namespace && info.name !== undefined)) {
    sendStatus(ex, Statuses.pathNotFound());
    return;
  }
  const ns = rt.namespaced ? info.namespace : '';
  const target = { group: rt.group, resource: rt.resource, ...(info.name !== undefined ? { name: info.name } : {}) };

  switch (info.verb) {
    case 'list': {
      const list = listObjects(store, rt, ns, ex.url.searchParams);
      if (list.ok) sendJson(ex, 200, list.value);
      else sendStatus(ex, list.status);
      return;
    }
    case 'watch': {
      const filter = parseFilter(ex.url.searchParams.get('labelSelector'), ex.url.searchParams.get('fieldSelector'));
      if (!filter.ok) {
        sendStatus(ex, Statuses.badRequest(filter.error));
        return;
      }
      watches.open(ex, { rt, namespace: ns, ...(info.name !== undefined ? { name: info.name } : {}), filter: filter.value, params: ex.url.searchParams });
      return;
    }
    case 'get': {
      const obj = store.get(rt, ns, info.name ?? '');
      if (obj === undefined) sendStatus(ex, Statuses.notFound(target));
      else sendJson(ex, 200, obj);
      return;
    }
    case 'create': {
      if (info.name !== undefined || (rt.namespaced && !info.namespace)) {
        sendStatus(ex, Statuses.methodNotAllowed());
        return;
      }
      const body = await readJsonBody(ex.req);
      if (!body.ok) return sendStatus(ex, Statuses.badRequest(body.error));
      if (!checkBody(ex, rt, info, body.value)) return;
      const created = store.create(rt, body.value, ns || undefined);
      if (created.ok) sendJson(ex, 201, created.value);
      else sendStatus(ex, created.status);
      return;
    }
    case 'update': {
      const body = await readJsonBody(ex.req);
      if (!body.ok) return sendStatus(ex, Statuses.badRequest(body.error));
      if (!checkBody(ex, rt, info, body.value)) return;
      const obj: KubeObject = { ...body.value, metadata: { ...body.value.metadata, name: info.name ?? '' } };
      const updated = store.update(rt, obj, scopeOf(rt, info), ns || undefined);
      if (updated.ok) sendJson(ex, 200, updated.value);
      else sendStatus(ex, updated.status);
      return;
    }
    case 'patch': {
      const type = patchTypeOf(ex.req.headers['content-type']);
      if (type === undefined) return sendStatus(ex, Statuses.unsupportedMediaType(ex.req.headers['content-type'] ?? ''));
      const body = await readJsonBody(ex.req);
      if (!body.ok) return sendStatus(ex, Statuses.badRequest(body.error));
      const existing = store.get(rt, ns, info.name ?? '');
      if (existing === undefined) return sendStatus(ex, Statuses.notFound(target));
      let patched: unknown;
      if (type === PatchType.Json) {
        const r = jsonPatch(existing, body.value);
        if (!r.ok) return sendStatus(ex, Statuses.invalid(r.error));
        patched = r.value;
      } else {
        patched = mergePatch(existing, body.value);
      }
      if (!isObject(patched)) return sendStatus(ex, Statuses.badRequest('the patch did not produce an object'));
      const obj: KubeObject = { ...patched, metadata: { ...patched.metadata, name: info.name ?? '' } };
      const updated = store.update(rt, obj, scopeOf(rt, info), ns || undefined);
      if (updated.ok) sendJson(ex, 200, updated.value);
      else sendStatus(ex, updated.status);
      return;
    }
    case 'delete': {
      const body = await readJsonBody(ex.req);
      const opts = body.ok && isObject(body.value) ? body.value : {};
      const pre = isObject(opts['preconditions']) ? (opts['preconditions'] as Preconditions) : {};
      const deleted = store.delete(rt, ns, info.name ?? '', pre);
      if (!deleted.ok) return sendStatus(ex, deleted.status);
      if (rt.returnDeletedObject) return sendJson(ex, 200, deleted.value);
      sendJson(ex, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name: info.name, ...(rt.group ? { group: rt.group } : {}), kind: rt.resource, uid: deleted.value.metadata?.uid },
      });
      return;
    }
    case 'deletecollection': {
      const list = listObjects(store, rt, ns, ex.url.searchParams);
      if (!list.ok) return sendStatus(ex, list.status);
      const gone: KubeObject[] = [];
      for (const item of list.value.items) {
        const d = store.delete(rt, item.metadata?.namespace, item.metadata?.name ?? '');
        if (d.ok) gone.push(d.value);
      }
      sendJson(ex, 200, { ...list.value, metadata: { resourceVersion: String(store.resourceVersion) }, items: gone });
      return;
    }
  }
}
