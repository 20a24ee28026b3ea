/**
 * Just enough DER to read a PKCS#10 request and write a TBSCertificate on the hot path,
 * where the general-purpose ASN.1 library costs more than the signature itself.
 * Readers are strict (definite lengths, bounds checked) because the input is untrusted.
 */

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  Oid: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

/** One tag-length-value element: `start`/`end` bound the whole element, `contentStart` its value. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Reads the element at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError(`truncated element at ${offset}`);
  const tag = buf[offset] as number;
  // High-tag-number form never appears in the structures we read; refusing it keeps parsing simple.
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported multi-byte tag at ${offset}`);
  let pos = offset + 1;
  const first = buf[pos++] as number;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at ${offset}`);
    if (n > 4) throw new DerError(`length too large at ${offset}`);
    if (pos + n > limit) throw new DerError(`truncated length at ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[pos++] as number);
    if (len < 0x80 || (n > 1 && buf[offset + 2] === 0)) throw new DerError(`non-minimal length at ${offset}`);
  }
  const end = pos + len;
  if (end > limit) throw new DerError(`element at ${offset} overruns its container`);
  return { tag, start: offset, contentStart: pos, end };
}

/** Reads an element and checks its tag. */
export function expectTlv(buf: Uint8Array, offset: number, limit: number, tag: number, what: string): Tlv {
  const tlv = readTlv(buf, offset, limit);
  if (tlv.tag !== tag) {
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`);
  }
  return tlv;
}

/** The elements directly inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const child = readTlv(buf, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

export function decodeOid(buf: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== Tag.Oid || tlv.end === tlv.contentStart) throw new DerError('malformed OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.contentStart; i < tlv.end; i++) {
    const b = buf[i] as number;
    if (value === 0 && b === 0x80) throw new DerError('non-minimal OID arc');
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if ((buf[tlv.end - 1] as number) & 0x80) throw new DerError('truncated OID');
  return arcs.join('.');
}

/** Contents of a BIT STRING that must have no unused bits (keys, signatures). */
export function bitStringBytes(buf: Uint8Array, tlv: Tlv): Uint8Array {
  if (tlv.tag !== Tag.BitString || tlv.end === tlv.contentStart) throw new DerError('malformed BIT STRING');
  if (buf[tlv.contentStart] !== 0) throw new DerError('BIT STRING with unused bits');
  return buf.subarray(tlv.contentStart + 1, tlv.end);
}

// ---- writing ----

export function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  if (len < 0x100) return Buffer.from([0x81, len]);
  if (len < 0x10000) return Buffer.from([0x82, len >> 8, len & 0xff]);
  if (len < 0x1000000) return Buffer.from([0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  throw new RangeError('DER element too large');
}

export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = encodeLength(len);
  const out = Buffer.allocUnsafe(1 + head.length + len);
  out[0] = tag;
  head.copy(out, 1);
  let pos = 1 + head.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Buffer => tlv(Tag.Sequence, ...parts);

export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => Number.parseInt(a, 10));
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined) throw new RangeError(`bad OID ${oid}`);
  const bytes: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const groups: number[] = [arc & 0x7f];
    let v = Math.floor(arc / 128);
    while (v > 0) {
      groups.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(...groups);
  }
  return tlv(Tag.Oid, Buffer.from(bytes));
}

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function encodeUnsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const trimmed = magnitude.subarray(i);
  const pad = ((trimmed[0] ?? 0) & 0x80) !== 0;
  return pad ? tlv(Tag.Integer, Buffer.from([0]), trimmed) : tlv(Tag.Integer, trimmed);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always whole seconds, Zulu. */
export function encodeTime(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    'Z';
  if (y >= 1950 && y < 2050) return tlv(Tag.UtcTime, Buffer.from(pad2(y % 100) + rest, 'latin1'));
  return tlv(Tag.GeneralizedTime, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'));
}
