/**
 * Checks a decoded Envoy message against the `validate.rules` annotations of its own .proto
 * files (protoc-gen-validate), as Envoy does before it accepts a resource. Envoy is not
 * available to test against; its rules are, in the descriptors the shared root already holds.
 *
 * Input is the plain shape `decodeMessage` produces (snake_case, enums as names, 64-bit
 * integers as strings, `Any` as `{ '@type', ...fields }`), so what is checked is what went
 * over the wire, not the builder's object.
 *
 * Checked: `message.required` (also `duration.required`, `any.required`, `timestamp.required`),
 * `message.skip`; string `const`/`len`/`min_len`/`max_len`/`min_bytes`/`max_bytes`/`prefix`/
 * `suffix`/`contains`/`in`/`not_in`/`ignore_empty`, `well_known_regex` HTTP_HEADER_NAME and
 * HTTP_HEADER_VALUE (strict and not), formats `ip`/`ipv4`/`ipv6`/`hostname`/`address`;
 * bytes `len`/`min_len`/`max_len`; every numeric kind's `const`/`lt`/`lte`/`gt`/`gte`/`in`/
 * `not_in` (also on wrapper types); `bool.const`; enum `defined_only`/`const`/`in`/`not_in`;
 * duration `lt`/`lte`/`gt`/`gte`; `repeated.min_items`/`max_items`/`unique`/`items`;
 * `map.min_pairs`/`max_pairs`/`keys`/`values`; `any.in`/`not_in`; oneof `(validate.required)`;
 * recursion into nested messages and into `Any` by its type URL.
 *
 * Not checked, reported in `unchecked` when met: `string.pattern` (RE2 syntax, which
 * JavaScript's RegExp does not share), the other string formats (email, uri, uuid…), and an
 * `Any` whose type the root does not hold.
 */
import { isIP } from 'node:net';
import protobuf from 'protobufjs';
import { loadSidecarProtos } from '../envoy-protos.ts';
import { decodeMessage, envoyProtoRoot } from '../protos.ts';

export interface ValidationSuccess {
  readonly ok: true;
  /** Rules met but not checked, as `path: rule`. */
  readonly unchecked: readonly string[];
}
export interface ValidationFailure {
  readonly ok: false;
  /** `path: rule (detail)`, e.g. `filter_chains[1].filters[0].name: string.min_len (want >= 1, got 0)`. */
  readonly errors: readonly string[];
  readonly unchecked: readonly string[];
}
export type ValidationResult = ValidationSuccess | ValidationFailure;

type Rules = Record<string, unknown>;
type Plain = Record<string, unknown>;

const ANY = '.google.protobuf.Any';
const DURATION = '.google.protobuf.Duration';
const TIMESTAMP = '.google.protobuf.Timestamp';
/** Wrapper types and the scalar rule family that applies to their `value`. */
const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};
const NUMERIC = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);
const WIDE = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

// protoc-gen-validate's own expressions for the header rules; control characters are the point.
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/** Validates `value` (decoded, plain) as the message `type` (full name or protobufjs type). */
export function validateMessage(type: string | protobuf.Type, value: Plain, path = ''): ValidationResult {
  loadSidecarProtos();
  const walker = new RuleWalker();
  const resolved = typeof type === 'string' ? envoyProtoRoot().lookupType(type) : type;
  walker.message(resolved, value, path);
  return walker.result();
}

/** Decodes the bytes of the message at `typeUrl` and validates them. */
export function validateEncoded(typeUrl: string, bytes: Uint8Array): ValidationResult {
  loadSidecarProtos();
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return validateMessage(name, decodeMessage(typeUrl, bytes));
}

/** Validates an encoded `google.protobuf.Any` by the type its URL names. */
export function validateAnyBytes(anyBytes: Uint8Array): ValidationResult {
  loadSidecarProtos();
  const any = envoyProtoRoot().lookupType('google.protobuf.Any').decode(anyBytes) as unknown as { type_url: string; value: Uint8Array };
  return validateEncoded(any.type_url, any.value);
}

function join(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}

/** The `(validate.rules)` of a field, merged from its parsed options (several may be given). */
function rulesOf(field: protobuf.Field): Rules {
  let merged: Rules = {};
  for (const entry of (field.parsedOptions ?? []) as Array<Record<string, unknown>>) {
    const r = entry['(validate.rules)'];
    if (r && typeof r === 'object') merged = deepMerge(merged, r as Rules);
  }
  return merged;
}

function deepMerge(a: Rules, b: Rules): Rules {
  const out: Rules = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObject(prev) && isObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sub(rules: Rules, key: string): Rules | undefined {
  const v = rules[key];
  return isObject(v) ? v : undefined;
}

class RuleWalker {
  private readonly errors: string[] = [];
  private readonly unchecked = new Set<string>();

  result(): ValidationResult {
    const unchecked = [...this.unchecked];
    return this.errors.length === 0 ? { ok: true, unchecked } : { ok: false, errors: this.errors, unchecked };
  }

  private fail(path: string, rule: string, detail?: string): void {
    this.errors.push(`${path || '(root)'}: ${rule}${detail ? ` (${detail})` : ''}`);
  }

  private skip(path: string, rule: string): void {
    this.unchecked.add(`${path || '(root)'}: ${rule}`);
  }

  message(type: protobuf.Type, value: Plain, path: string): void {
    if (`.${type.fullName.replace(/^\./, '')}` === ANY) {
      this.any(value, path, {});
      return;
    }
    for (const oneof of type.oneofsArray) {
      if (oneof.options?.['(validate.required)'] !== true) continue;
      if (!oneof.oneof.some((name) => value[name] !== undefined && value[name] !== null)) {
        this.fail(join(path, oneof.name), 'oneof.required', `one of ${oneof.oneof.join(', ')}`);
      }
    }
    for (const field of type.fieldsArray) {
      field.resolve();
      const v = value[field.name];
      const fpath = join(path, field.name);
      const rules = rulesOf(field);
      if (field.partOf && (v === undefined || v === null)) continue; // an unset oneof member
      if (field.map) this.map(field, v, rules, fpath);
      else if (field.repeated) this.repeated(field, v, rules, fpath);
      else this.single(field, v, rules, fpath);
    }
  }

  private repeated(field: protobuf.Field, v: unknown, rules: Rules, path: string): void {
    const items = Array.isArray(v) ? v : [];
    const r = sub(rules, 'repeated') ?? {};
    if (typeof r['min_items'] === 'number' && items.length < r['min_items']) {
      this.fail(path, 'repeated.min_items', `want >= ${r['min_items']}, got ${items.length}`);
    }
    if (typeof r['max_items'] === 'number' && items.length > r['max_items']) {
      this.fail(path, 'repeated.max_items', `want <= ${r['max_items']}, got ${items.length}`);
    }
    if (r['unique'] === true && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) {
      this.fail(path, 'repeated.unique');
    }
    const itemRules = sub(r, 'items') ?? {};
    items.forEach((item, i) => this.single(field, item, itemRules, `${path}[${i}]`));
  }

  private map(field: protobuf.Field, v: unknown, rules: Rules, path: string): void {
    const entries = isObject(v) ? Object.entries(v) : [];
    const r = sub(rules, 'map') ?? {};
    if (typeof r['min_pairs'] === 'number' && entries.length < r['min_pairs']) {
      this.fail(path, 'map.min_pairs', `want >= ${r['min_pairs']}, got ${entries.length}`);
    }
    if (typeof r['max_pairs'] === 'number' && entries.length > r['max_pairs']) {
      this.fail(path, 'map.max_pairs', `want <= ${r['max_pairs']}, got ${entries.length}`);
    }
    const keyRules = sub(r, 'keys') ?? {};
    const valueRules = sub(r, 'values') ?? {};
    const keyType = field instanceof protobuf.MapField ? field.keyType : 'string';
    for (const [k, item] of entries) {
      this.scalar(keyType, k, keyRules, `${path}[${k}]`);
      this.single(field, item, valueRules, `${path}[${k}]`);
    }
  }

  /** One value of a field (a singular field, a repeated item or a map value). */
  private single(field: protobuf.Field, v: unknown, rules: Rules, path: string): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      this.messageValue(resolved, v, rules, path);
    } else if (resolved instanceof protobuf.Enum) {
      this.enumValue(resolved, v, sub(rules, 'enum') ?? {}, path);
    } else {
      this.scalar(field.type, v, rules, path);
    }
  }

  private messageValue(type: protobuf.Type, v: unknown, rules: Rules, path: string): void {
    const name = `.${type.fullName.replace(/^\./, '')}`;
    const present = isObject(v);
    if (!present) {
      for (const family of ['message', 'duration', 'any', 'timestamp']) {
        if (sub(rules, family)?.['required'] === true) this.fail(path, `${family}.required`);
      }
      return;
    }
    if (sub(rules, 'message')?.['skip'] === true) return;
    if (name === DURATION) {
      this.duration(v, sub(rules, 'duration') ?? {}, path);
      return;
    }
    if (name === TIMESTAMP) return;
    if (name === ANY) {
      this.any(v, path, sub(rules, 'any') ?? {});
      return;
    }
    const wrapped = WRAPPERS[name];
    if (wrapped !== undefined) {
      this.scalar(wrapped, v['value'], rules, join(path, 'value'));
      return;
    }
    this.message(type, v, path);
  }

  private any(v: Plain, path: string, rules: Rules): void {
    const url = typeof v['@type'] === 'string' ? v['@type'] : typeof v['type_url'] === 'string' ? v['type_url'] : '';
    const inList = rules['in'];
    if (Array.isArray(inList) && !inList.includes(url)) this.fail(path, 'any.in', url);
    const notIn = rules['not_in'];
    if (Array.isArray(notIn) && notIn.includes(url)) this.fail(path, 'any.not_in', url);
    if (typeof v['@type'] !== 'string') {
      // protobufjs leaves an Any it cannot resolve as type_url/value.
      this.skip(path, `Any of a type not loaded (${url || 'no type URL'})`);
      return;
    }
    let type: protobuf.Type;
    try {
      type = envoyProtoRoot().lookupType(url.slice(url.lastIndexOf('/') + 1));
    } catch {
      this.skip(path, `Any of a type not loaded (${url})`);
      return;
    }
    const { '@type': _type, ...fields } = v;
    this.message(type, fields, path);
  }

  private duration(v: Plain, rules: Rules, path: string): void {
    const value = durationNanos(v);
    for (const op of ['lt', 'lte', 'gt', 'gte', 'const'] as const) {
      const bound = rules[op];
      if (!isObject(bound)) continue;
      const limit = durationNanos(bound);
      if (!compare(op, value, limit)) this.fail(path, `duration.${op}`, `limit ${formatNanos(limit)}, got ${formatNanos(value)}`);
    }
  }

  private enumValue(type: protobuf.Enum, v: unknown, rules: Rules, path: string): void {
    const raw = v ?? 0; // absent: proto3's zero value
    const num = typeof raw === 'number' ? raw : typeof raw === 'string' ? type.values[raw] : undefined;
    if (rules['defined_only'] === true && (num === undefined || !Object.values(type.values).includes(num))) {
      this.fail(path, 'enum.defined_only', String(raw));
      return;
    }
    if (num === undefined) return;
    if (typeof rules['const'] === 'number' && num !== rules['const']) this.fail(path, 'enum.const', String(raw));
    const inList = rules['in'];
    if (Array.isArray(inList) && !inList.includes(num)) this.fail(path, 'enum.in', String(raw));
    const notIn = rules['not_in'];
    if (Array.isArray(notIn) && notIn.includes(num)) this.fail(path, 'enum.not_in', String(raw));
  }

  private scalar(kind: string, v: unknown, rules: Rules, path: string): void {
    if (kind === 'string') {
      const r = sub(rules, 'string');
      if (r) this.string(typeof v === 'string' ? v : '', r, path);
    } else if (kind === 'bytes') {
      const r = sub(rules, 'bytes');
      if (r) this.bytes(typeof v === 'string' ? Buffer.from(v, 'base64') : v instanceof Uint8Array ? v : new Uint8Array(), r, path);
    } else if (kind === 'bool') {
      const r = sub(rules, 'bool');
      if (r && typeof r['const'] === 'boolean' && (v === true) !== r['const']) this.fail(path, 'bool.const', `want ${r['const']}`);
    } else if (NUMERIC.has(kind)) {
      const r = sub(rules, kind);
      if (r) this.number(kind, v, r, path);
    }
  }

  private number(kind: string, v: unknown, rules: Rules, path: string): void {
    const wide = WIDE.has(kind);
    const value = wide ? BigInt(typeof v === 'string' || typeof v === 'number' ? v : 0) : typeof v === 'number' ? v : Number(v ?? 0);
    const as = (x: unknown) => (wide ? BigInt(x as string | number) : Number(x));
    for (const op of ['lt', 'lte', 'gt', 'gte', 'const'] as const) {
      if (rules[op] === undefined) continue;
      const limit = as(rules[op]);
      if (!compare(op, value, limit)) this.fail(path, `${kind}.${op}`, `limit ${limit}, got ${value}`);
    }
    const inList = rules['in'];
    if (Array.isArray(inList) && !inList.map(as).includes(value)) this.fail(path, `${kind}.in`, String(value));
    const notIn = rules['not_in'];
    if (Array.isArray(notIn) && notIn.map(as).includes(value)) this.fail(path, `${kind}.not_in`, String(value));
  }

  private string(s: string, r: Rules, path: string): void {
    if (r['ignore_empty'] === true && s === '') return;
    const chars = [...s].length;
    const bytes = Buffer.byteLength(s);
    const num = (k: string) => (typeof r[k] === 'number' || typeof r[k] === 'string' ? Number(r[k]) : undefined);
    const check = (rule: string, ok: boolean, detail: string) => {
      if (!ok) this.fail(path, `string.${rule}`, detail);
    };
    const len = num('len');
    if (len !== undefined) check('len', chars === len, `want ${len}, got ${chars}`);
    const minLen = num('min_len');
    if (minLen !== undefined) check('min_len', chars >= minLen, `want >= ${minLen}, got ${chars}`);
    const maxLen = num('max_len');
    if (maxLen !== undefined) check('max_len', chars <= maxLen, `want <= ${maxLen}, got ${chars}`);
    const minBytes = num('min_bytes');
    if (minBytes !== undefined) check('min_bytes', bytes >= minBytes, `want >= ${minBytes}, got ${bytes}`);
    const maxBytes = num('max_bytes');
    if (maxBytes !== undefined) check('max_bytes', bytes <= maxBytes, `want <= ${maxBytes}, got ${bytes}`);
    if (typeof r['const'] === 'string') check('const', s === r['const'], JSON.stringify(s));
    if (typeof r['prefix'] === 'string') check('prefix', s.startsWith(r['prefix']), `want ${JSON.stringify(r['prefix'])}`);
    if (typeof r['suffix'] === 'string') check('suffix', s.endsWith(r['suffix']), `want ${JSON.stringify(r['suffix'])}`);
    if (typeof r['contains'] === 'string') check('contains', s.includes(r['contains']), `want ${JSON.stringify(r['contains'])}`);
    if (typeof r['not_contains'] === 'string') check('not_contains', !s.includes(r['not_contains']), JSON.stringify(r['not_contains']));
    const inList = r['in'];
    if (Array.isArray(inList)) check('in', inList.includes(s), JSON.stringify(s));
    const notIn = r['not_in'];
    if (Array.isArray(notIn)) check('not_in', !notIn.includes(s), JSON.stringify(s));
    if (r['pattern'] !== undefined) this.skip(path, 'string.pattern');
    const wkr = r['well_known_regex'];
    if (wkr !== undefined) {
      const strict = r['strict'] !== false;
      if (wkr === 'HTTP_HEADER_NAME') check('well_known_regex', (strict ? HEADER_NAME_STRICT : HEADER_LOOSE).test(s), `HTTP_HEADER_NAME ${JSON.stringify(s)}`);
      else if (wkr === 'HTTP_HEADER_VALUE') check('well_known_regex', (strict ? HEADER_VALUE_STRICT : HEADER_LOOSE).test(s), 'HTTP_HEADER_VALUE');
      else this.skip(path, `string.well_known_regex ${String(wkr)}`);
    }
    if (s === '') return; // PGV checks formats of set strings only
    if (r['ip'] === true) check('ip', isIP(s) !== 0, s);
    if (r['ipv4'] === true) check('ipv4', isIP(s) === 4, s);
    if (r['ipv6'] === true) check('ipv6', isIP(s) === 6, s);
    if (r['hostname'] === true) check('hostname', HOSTNAME.test(s), s);
    if (r['address'] === true) check('address', isIP(s) !== 0 || HOSTNAME.test(s), s);
    for (const format of ['email', 'uri', 'uri_ref', 'uuid']) if (r[format] === true) this.skip(path, `string.${format}`);
  }

  private bytes(b: Uint8Array, r: Rules, path: string): void {
    const n = (k: string) => (r[k] === undefined ? undefined : Number(r[k]));
    const len = n('len');
    if (len !== undefined && b.length !== len) this.fail(path, 'bytes.len', `want ${len}, got ${b.length}`);
    const min = n('min_len');
    if (min !== undefined && b.length < min) this.fail(path, 'bytes.min_len', `want >= ${min}, got ${b.length}`);
    const max = n('max_len');
    if (max !== undefined && b.length > max) this.fail(path, 'bytes.max_len', `want <= ${max}, got ${b.length}`);
    if (r['pattern'] !== undefined) this.skip(path, 'bytes.pattern');
  }
}

function durationNanos(d: Plain): bigint {
  const seconds = d['seconds'];
  const nanos = d['nanos'];
  return BigInt(typeof seconds === 'string' || typeof seconds === 'number' ? seconds : 0) * 1_000_000_000n + BigInt(typeof nanos === 'number' ? nanos : 0);
}

function formatNanos(n: bigint): string {
  return `${Number(n) / 1e9}s`;
}

function compare<T extends number | bigint>(op: 'lt' | 'lte' | 'gt' | 'gte' | 'const', value: T, limit: T): boolean {
  switch (op) {
    case 'lt':
      return value < limit;
    case 'lte':
      return value <= limit;
    case 'gt':
      return value > limit;
    case 'gte':
      return value >= limit;
    case 'const':
      return value === limit;
  }
}
