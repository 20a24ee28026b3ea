/**
 * Hand-assembled DiscoveryResponse bytes. Resources are serialized once into `Any`
 * bytes and cached; a response is then only a few small fields plus those bytes, so it is
 * concatenated here instead of being re-encoded per proxy.
 *
 * Field numbers (envoy/service/discovery/v3/discovery.proto):
 *   DiscoveryResponse: version_info=1, resources=2 (Any), type_url=4, nonce=5
 *   DeltaDiscoveryResponse: system_version_info=1, resources=2 (Resource), type_url=4,
 *     nonce=5, removed_resources=6
 *   Resource: name=3, version=1, resource=2 (Any)
 *   google.protobuf.Any: type_url=1, value=2
 */

const WIRE_LEN = 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

const typeUrlBytes = new Map<string, Buffer>();

/** `google.protobuf.Any{type_url, value}`, in one allocation (it runs once per resource built). */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  let url = typeUrlBytes.get(typeUrl);
  if (!url) typeUrlBytes.set(typeUrl, (url = Buffer.from(typeUrl, 'utf8')));
  const out = Buffer.allocUnsafe(fieldSize(url) + 1 + varintSize(value.length) + value.length);
  writeLen(out, writeField(out, 0, 1, url), 2, value);
  return out;
}

export interface SotwResponseParts {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  /** Encoded `Any` messages. */
  readonly resources: readonly Uint8Array[];
}

/** One allocation, one copy of each resource: the cost of a `Buffer.concat` plus a few headers. */
export function encodeDiscoveryResponse(parts: SotwResponseParts): Buffer {
  const version = Buffer.from(parts.versionInfo, 'utf8');
  const typeUrl = Buffer.from(parts.typeUrl, 'utf8');
  const nonce = Buffer.from(parts.nonce, 'utf8');
  let size = fieldSize(version) + fieldSize(typeUrl) + fieldSize(nonce);
  for (const any of parts.resources) size += 1 + varintSize(any.length) + any.length;
  const out = Buffer.allocUnsafe(size);
  let o = writeField(out, 0, 1, version);
  for (const any of parts.resources) o = writeLen(out, o, 2, any);
  o = writeField(out, o, 4, typeUrl);
  writeField(out, o, 5, nonce);
  return out;
}

/** Size of a string field; proto3 leaves empty strings off the wire. */
function fieldSize(bytes: Uint8Array): number {
  return bytes.length === 0 ? 0 : 1 + varintSize(bytes.length) + bytes.length;
}

function writeField(out: Buffer, offset: number, field: number, bytes: Uint8Array): number {
  return bytes.length === 0 ? offset : writeLen(out, offset, field, bytes);
}

/** Field numbers here are below 16, so the tag is one byte. */
function writeLen(out: Buffer, offset: number, field: number, bytes: Uint8Array): number {
  out[offset++] = (field << 3) | WIRE_LEN;
  offset = writeVarint(out, offset, bytes.length);
  out.set(bytes, offset);
  return offset + bytes.length;
}

export interface DeltaResourceParts {
  readonly name: string;
  readonly version: string;
  /** The encoded `google.protobuf.Any`. */
  readonly any: Uint8Array;
}

export interface DeltaResponseParts {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly DeltaResourceParts[];
  readonly removedResources: readonly string[];
}

/**
 * `DeltaDiscoveryResponse`, fields in protobufjs's order (by field number) so the bytes
 * equal what a generic encoder would produce. Each `Resource` entry (its tag, length, version,
 * `Any` and name) is encoded once per resource object and kept while the object lives:
 * proxies of one view share the objects, so a push to a thousand delta streams encodes each
 * changed resource once and then only copies it, as a SotW push copies its shared `Any`s.
 */
export function encodeDeltaDiscoveryResponse(parts: DeltaResponseParts): Buffer {
  const version = Buffer.from(parts.systemVersionInfo, 'utf8');
  const typeUrl = Buffer.from(parts.typeUrl, 'utf8');
  const nonce = Buffer.from(parts.nonce, 'utf8');
  const entries = parts.resources.map(resourceEntry);
  const removed = parts.removedResources.map((n) => Buffer.from(n, 'utf8'));
  let size = fieldSize(version) + fieldSize(typeUrl) + fieldSize(nonce);
  for (const e of entries) size += e.length;
  // A removed name is sent even when empty: an element of a repeated field is never implicit.
  for (const n of removed) size += 1 + varintSize(n.length) + n.length;
  const out = Buffer.allocUnsafe(size);
  let o = writeField(out, 0, 1, version);
  for (const e of entries) {
    out.set(e, o);
    o += e.length;
  }
  o = writeField(out, o, 4, typeUrl);
  o = writeField(out, o, 5, nonce);
  for (const n of removed) o = writeLen(out, o, 6, n);
  return out;
}

const resourceEntries = new WeakMap<DeltaResourceParts, Buffer>();

/** Field 2 of a `DeltaDiscoveryResponse`: a `Resource{version, resource, name}` with its tag. */
function resourceEntry(r: DeltaResourceParts): Buffer {
  const known = resourceEntries.get(r);
  if (known) return known;
  const name = Buffer.from(r.name, 'utf8');
  const rv = Buffer.from(r.version, 'utf8');
  const body = fieldSize(rv) + 1 + varintSize(r.any.length) + r.any.length + fieldSize(name);
  const entry = Buffer.allocUnsafe(1 + varintSize(body) + body);
  entry[0] = (2 << 3) | WIRE_LEN;
  let o = writeVarint(entry, 1, body);
  o = writeField(entry, o, 1, rv);
  o = writeLen(entry, o, 2, r.any);
  writeField(entry, o, 3, name);
  resourceEntries.set(r, entry);
  return entry;
}

/** The `value` bytes of an encoded `google.protobuf.Any` (a view, not a copy). */
export function anyValue(any: Uint8Array): Uint8Array {
  for (const field of fields(any)) if (field.number === 2) return field.payload;
  return new Uint8Array();
}

/** The `type_url` of an encoded `google.protobuf.Any`. */
export function anyTypeUrl(any: Uint8Array): string {
  for (const field of fields(any)) if (field.number === 1) return Buffer.from(field.payload.buffer, field.payload.byteOffset, field.payload.length).toString('utf8');
  return '';
}

/** Bytes in pieces, joined once at the end: rewriting nested messages copies nothing twice. */
export interface Pieces {
  readonly parts: Uint8Array[];
  length: number;
}

/**
 * A message with the length-delimited fields numbered in `numbers` replaced by what `map`
 * makes of their payload, every other field kept as it was: a change deep inside an encoded
 * message without decoding the rest of it. `joinPieces` gives the bytes.
 */
export function mapLengthDelimited(message: Uint8Array, numbers: ReadonlySet<number>, map: (payload: Uint8Array) => Uint8Array | Pieces): Pieces {
  const out: Pieces = { parts: [], length: 0 };
  const add = (bytes: Uint8Array) => {
    out.parts.push(bytes);
    out.length += bytes.length;
  };
  for (const field of fields(message)) {
    if (field.wireType === WIRE_LEN && numbers.has(field.number)) {
      const payload = map(field.payload);
      const length = payload.length;
      const head = Buffer.allocUnsafe(varintSize(field.key) + varintSize(length));
      writeVarint(head, writeVarint(head, 0, field.key), length);
      add(head);
      if (payload instanceof Uint8Array) add(payload);
      else {
        out.parts.push(...payload.parts);
        out.length += payload.length;
      }
    } else {
      add(field.whole);
    }
  }
  return out;
}

export function joinPieces(pieces: Pieces): Buffer {
  return Buffer.concat(pieces.parts, pieces.length);
}

interface WireField {
  readonly key: number;
  readonly number: number;
  readonly wireType: number;
  /** A length-delimited field's payload (empty for the others). */
  readonly payload: Uint8Array;
  /** The field as encoded, key included. */
  readonly whole: Uint8Array;
}

function* fields(message: Uint8Array): Generator<WireField> {
  let offset = 0;
  while (offset < message.length) {
    const start = offset;
    const [key, afterKey] = readVarint(message, offset);
    const wireType = key & 7;
    let payload = EMPTY;
    switch (wireType) {
      case 0:
        offset = readVarint(message, afterKey)[1];
        break;
      case 1:
        offset = afterKey + 8;
        break;
      case WIRE_LEN: {
        const [length, from] = readVarint(message, afterKey);
        payload = message.subarray(from, from + length);
        offset = from + length;
        break;
      }
      case 5:
        offset = afterKey + 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${wireType}`);
    }
    if (offset > message.length) throw new Error('protobuf: truncated message');
    yield { key, number: key >>> 3, wireType, payload, whole: message.subarray(start, offset) };
  }
}

const EMPTY: Uint8Array = new Uint8Array();

function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[offset++];
    if (byte === undefined) throw new Error('protobuf: truncated varint');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, offset];
    scale *= 128;
  }
}
