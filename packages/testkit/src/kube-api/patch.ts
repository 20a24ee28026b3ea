// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic
// merge patch approximated as a merge patch (lists are replaced, not merged by key).
// client-node 2.x sends JSON patch unless told otherwise (see README).
import type { Parsed } from './selectors.ts';

export const PatchType = {
  Json: 'application/json-patch+json',
  Merge: 'application/merge-patch+json',
  StrategicMerge: 'application/strategic-merge-patch+json',
} as const;
export type PatchType = (typeof PatchType)[keyof typeof PatchType];

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const base = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return Object.values(PatchType).find((t) => t === base);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function pointer(path: string): Parsed<string[]> {
  if (path === '') return { ok: true, value: [] };
  if (!path.startsWith('/')) return { ok: false, error: `invalid JSON pointer "${path}"` };
  return { ok: true, value: path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')) };
}

type Container = Record<string, unknown> | unknown[];

function walk(doc: unknown, tokens: readonly string[]): Container | undefined {
  let cur: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
  }
  return Array.isArray(cur) || isObject(cur) ? cur : undefined;
}

function getAt(doc: unknown, tokens: readonly string[]): { found: boolean; value: unknown } {
  const parent = walk(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (last === undefined) return { found: true, value: doc };
  if (parent === undefined) return { found: false, value: undefined };
  if (Array.isArray(parent)) {
    const i = Number(last);
    return { found: Number.isInteger(i) && i >= 0 && i < parent.length, value: parent[i] };
  }
  return { found: Object.prototype.hasOwnProperty.call(parent, last), value: parent[last] };
}

function removeAt(doc: unknown, tokens: readonly string[]): string | undefined {
  const parent = walk(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (parent === undefined || last === undefined) return 'path not found';
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) return 'index out of range';
    parent.splice(i, 1);
    return undefined;
  }
  if (!Object.prototype.hasOwnProperty.call(parent, last)) return 'path not found';
  delete parent[last];
  return undefined;
}

function addAt(doc: unknown, tokens: readonly string[], value: unknown, replace: boolean): string | undefined {
  const parent = walk(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (parent === undefined || last === undefined) return 'path not found';
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (replace && i >= parent.length)) return 'index out of range';
    parent.splice(i, replace ? 1 : 0, structuredClone(value));
    return undefined;
  }
  if (replace && !Object.prototype.hasOwnProperty.call(parent, last)) return 'path not found';
  parent[last] = structuredClone(value);
  return undefined;
}

export function jsonPatch(target: unknown, ops: unknown): Parsed<unknown> {
  if (!Array.isArray(ops)) return { ok: false, error: 'a JSON patch must be an array of operations' };
  const doc = structuredClone(target);
  for (const raw of ops as JsonPatchOp[]) {
    const path = pointer(raw.path);
    if (!path.ok) return path;
    const tokens = path.value;
    if (tokens.length === 0) return { ok: false, error: 'patching the document root is not supported' };
    let err: string | undefined;
    switch (raw.op) {
      case 'add':
        err = addAt(doc, tokens, raw.value, false);
        break;
      case 'replace':
        err = addAt(doc, tokens, raw.value, true);
        break;
      case 'remove':
        err = removeAt(doc, tokens);
        break;
      case 'test': {
        const got = getAt(doc, tokens);
        if (!got.found || JSON.stringify(got.value) !== JSON.stringify(raw.value)) err = 'test failed';
        break;
      }
      case 'move':
      case 'copy': {
        const from = pointer(raw.from ?? '');
        if (!from.ok) return from;
        const got = getAt(doc, from.value);
        if (!got.found) {
          err = 'from path not found';
          break;
        }
        if (raw.op === 'move') err = removeAt(doc, from.value);
        err ??= addAt(doc, tokens, got.value, false);
        break;
      }
      default:
        err = `unknown operation "${String(raw.op)}"`;
    }
    if (err !== undefined) return { ok: false, error: `${raw.op} ${raw.path}: ${err}` };
  }
  return { ok: true, value: doc };
}
