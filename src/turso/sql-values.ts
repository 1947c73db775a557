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

function decodeValue(text: string): SqlValue {
  const body = text.slice(1);
  switch (text[0]) {
    case 'n':
      return null;
    case 'i':
      return BigInt(body);
    case 'r':
      return Number(body);
    case 't':
      return body;
    case 'b':
      return Buffer.from(body, 'hex');
    default:
      throw new Error(`Unknown encoded SQL value ${JSON.stringify(text.slice(0, 20))}`);
  }
}

/** A row's key (its primary key values, or its rowid) as one string, reversible by decodeKey. */
export function encodeKey(values: readonly SqlValue[]): string {
  return values.length === 1 ? encodeValue(values[0]!) : JSON.stringify(values.map(encodeValue));
}

export function decodeKey(key: string): SqlValue[] {
  // Encoded single values start with a type letter, never with "[".
  if (key.startsWith('[')) return (JSON.parse(key) as string[]).map(decodeValue);
  return [decodeValue(key)];
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
