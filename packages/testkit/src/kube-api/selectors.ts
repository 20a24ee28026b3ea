// Label and field selectors in the string syntax of the `labelSelector` and
// `fieldSelector` query parameters. Parsing returns a value or an error message
// (a 400 for the caller), never throws.
import type { KubeObject } from './types.ts';

export type LabelRequirement =
  | { op: 'in'; key: string; values: readonly string[] }
  | { op: 'notin'; key: string; values: readonly string[] }
  | { op: 'exists'; key: string }
  | { op: 'doesnotexist'; key: string };

export type FieldRequirement = { op: '=' | '!='; path: string; value: string };

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Splits on commas that are not inside `(...)`, since `in (a,b)` holds commas of its own. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const SET_RE = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^)]*)\)$`);
const EQ_RE = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(String.raw`^(!?)\s*(${KEY})$`);
const VALUE_RE = new RegExp(String.raw`^${VALUE}$`);

export function parseLabelSelector(selector: string): Parsed<readonly LabelRequirement[]> {
  const reqs: LabelRequirement[] = [];
  for (const term of splitTopLevel(selector)) {
    const set = SET_RE.exec(term);
    if (set) {
      const key = set[1] ?? '';
      const values = (set[4] ?? '').split(',').map((v) => v.trim());
      if (values.some((v) => !VALUE_RE.test(v))) return { ok: false, error: `invalid label selector value in "${term}"` };
      reqs.push({ op: set[3] === 'in' ? 'in' : 'notin', key, values });
      continue;
    }
    const eq = EQ_RE.exec(term);
    if (eq) {
      const key = eq[1] ?? '';
      const value = eq[4] ?? '';
      reqs.push(eq[3] === '!=' ? { op: 'notin', key, values: [value] } : { op: 'in', key, values: [value] });
      continue;
    }
    const ex = EXISTS_RE.exec(term);
    if (ex) {
      const key = ex[2] ?? '';
      reqs.push(ex[1] === '!' ? { op: 'doesnotexist', key } : { op: 'exists', key });
      continue;
    }
    return { ok: false, error: `unable to parse requirement: "${term}"` };
  }
  return { ok: true, value: reqs };
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key] ?? '');
      case 'notin':
        // As in apimachinery: a missing key satisfies `notin` and `!=`.
        return !has || !r.values.includes(l[r.key] ?? '');
    }
  });
}

export function parseFieldSelector(selector: string): Parsed<readonly FieldRequirement[]> {
  const reqs: FieldRequirement[] = [];
  for (const term of splitTopLevel(selector)) {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) return { ok: false, error: `invalid field selector: "${term}"` };
    reqs.push({ path: m[1] ?? '', op: m[2] === '!=' ? '!=' : '=', value: m[3] ?? '' });
  }
  return { ok: true, value: reqs };
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

export function matchesFields(reqs: readonly FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.path) === r.value) === (r.op === '='));
}

/** Both selectors of one request, ready to test objects against. */
export interface ObjectFilter {
  labels: readonly LabelRequirement[];
  fields: readonly FieldRequirement[];
}

export function parseFilter(labelSelector: string | null, fieldSelector: string | null): Parsed<ObjectFilter> {
  const labels = parseLabelSelector(labelSelector ?? '');
  if (!labels.ok) return labels;
  const fields = parseFieldSelector(fieldSelector ?? '');
  if (!fields.ok) return fields;
  return { ok: true, value: { labels: labels.value, fields: fields.value } };
}

export function matchesFilter(filter: ObjectFilter, obj: KubeObject): boolean {
  return matchesLabels(filter.labels, obj.metadata?.labels) && matchesFields(filter.fields, obj);
}
