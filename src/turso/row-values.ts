import { createHash } from 'node:crypto';

/**
 * A SQLite value as both sides read it: better-sqlite3 with safe integers (Buffer for blobs) and
 * @libsql/client with intMode "bigint" (ArrayBuffer for blobs). Integers are always bigint, so a
 * 64-bit id never loses a digit and 5 (INTEGER) never equals 5.0 (REAL).
 */
export type SqlValue = null | bigint | number | string | Uint8Array | ArrayBuffer;

function blobHex(value: Uint8Array | ArrayBuffer): string {
  return Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString('hex');
}

/** One value as tagged text: the type is part of it, and String(number) round-trips exactly. */
function encodeValue(value: SqlValue): string {
  if (value === null) return 'n';
  if (typeof value === 'bigint') return `i${value}`;
  if (typeof value === 'number') return `r${value}`;
  if (typeof value === 'string') return `t${value}`;
  return `b${blobHex(value)}`;
}

/**
 * MD5 of a row's values, in column order. Each value carries its type and text values their
 * length, so no two different rows share an input.
 */
export function rowDigest(values: readonly SqlValue[]): Buffer {
  let text = '';
  for (const value of values) {
    const encoded = encodeValue(value);
    text += `${encoded.length}:${encoded}`;
  }
  return createHash('md5').update(text, 'utf8').digest();
}

/** Roughly how many bytes a value takes on the wire; batches are sized by it. */
export function valueBytes(value: SqlValue): number {
  if (value === null) return 4;
  if (typeof value === 'string') return value.length * 3 > 64 ? Buffer.byteLength(value) + 16 : value.length * 3 + 16;
  if (typeof value === 'bigint' || typeof value === 'number') return 24;
  return value.byteLength * 2 + 16;
}

/**
 * A row's key as bytes whose memcmp order is SQLite's BINARY order of the key values (NULL <
 * integers < reals < text < blobs; within one type, SQLite's own order). The push reads the
 * source, the target and PostgreSQL's recorded rows all in this order and merges them in one
 * pass, so no side is ever held whole in memory. PostgreSQL orders bytea by memcmp too.
 * (Integer and real values mixed in one key column sort differently in SQLite; the merge
 * notices the disorder and fails naming the table rather than guess.)
 */
const TAG = { null: 0x01, integer: 0x02, real: 0x03, text: 0x04, blob: 0x05 } as const;
const SIGN = 1n << 63n;

function escapedBytes(bytes: Uint8Array): number[] {
  // 0x00 becomes 0x00 0xff and the value ends with 0x00 0x00: order is kept and keys of several
  // columns cannot run into each other.
  const out: number[] = [];
  for (const byte of bytes) {
    out.push(byte);
    if (byte === 0) out.push(0xff);
  }
  out.push(0, 0);
  return out;
}

export function sortKey(values: readonly SqlValue[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    if (value === null) {
      parts.push(Buffer.of(TAG.null));
    } else if (typeof value === 'bigint') {
      const part = Buffer.alloc(9);
      part[0] = TAG.integer;
      part.writeBigUInt64BE(BigInt.asUintN(64, value) ^ SIGN, 1);
      parts.push(part);
    } else if (typeof value === 'number') {
      const part = Buffer.alloc(9);
      part[0] = TAG.real;
      part.writeDoubleBE(value === 0 ? 0 : value, 1);
      // Negative numbers: every bit flipped; positive: the sign bit set. Then memcmp orders them.
      if (part[1]! & 0x80) for (let i = 1; i < 9; i += 1) part[i] = ~part[i]! & 0xff;
      else part[1] = part[1]! | 0x80;
      parts.push(part);
    } else if (typeof value === 'string') {
      parts.push(Buffer.from([TAG.text, ...escapedBytes(Buffer.from(value, 'utf8'))]));
    } else {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
      parts.push(Buffer.from([TAG.blob, ...escapedBytes(bytes)]));
    }
  }
  return Buffer.concat(parts);
}

/** The key values back from sortKey's bytes (for a DELETE of a row only the records know). */
export function decodeSortKey(key: Uint8Array): SqlValue[] {
  const buffer = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const values: SqlValue[] = [];
  let at = 0;
  while (at < buffer.length) {
    const tag = buffer[at]!;
    at += 1;
    if (tag === TAG.null) {
      values.push(null);
    } else if (tag === TAG.integer) {
      values.push(BigInt.asIntN(64, buffer.readBigUInt64BE(at) ^ SIGN));
      at += 8;
    } else if (tag === TAG.real) {
      const part = Buffer.from(buffer.subarray(at, at + 8));
      if (part[0]! & 0x80) part[0] = part[0]! & 0x7f;
      else for (let i = 0; i < 8; i += 1) part[i] = ~part[i]! & 0xff;
      values.push(part.readDoubleBE(0));
      at += 8;
    } else if (tag === TAG.text || tag === TAG.blob) {
      const bytes: number[] = [];
      for (;;) {
        const byte = buffer[at];
        if (byte === undefined) throw new Error('Truncated row key');
        if (byte === 0) {
          at += 1;
          if (buffer[at] === 0) break;
          at += 1; // 0x00 0xff: an escaped zero byte
        } else {
          at += 1;
        }
        bytes.push(byte);
      }
      at += 1;
      values.push(tag === TAG.text ? Buffer.from(bytes).toString('utf8') : Buffer.from(bytes));
    } else {
      throw new Error(`Unknown row key tag ${tag}`);
    }
  }
  return values;
}

/** A key fit for a log line or a dry-run sample: 42, or (1, 'abc'). */
export function displayKey(values: readonly SqlValue[]): string {
  const shown = values.map((value) => {
    if (value === null) return 'NULL';
    if (typeof value === 'bigint' || typeof value === 'number') return String(value);
    if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
    return `x'${Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString('hex')}'`;
  });
  return shown.length === 1 ? shown[0]! : `(${shown.join(', ')})`;
}
