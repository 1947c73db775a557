import { bsonType, type BsonValue } from './bson-type.js';

/**
 * Conversions from the BSON values a document can hold (numbers, bigint, Decimal128, Date,
 * ObjectId, ...) to what PostgreSQL is given: numbers as exact decimal text, dates as ISO text.
 * Each returns undefined when the field is absent or null, and throws a FieldError when it is
 * there but of a type that cannot be mapped (the document then goes to rejects).
 */
export class FieldError extends Error {
  override readonly name = 'FieldError';
}

const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

/** Exact decimal text of a number-like value, or undefined when absent. */
export function decimalText(field: string, value: unknown): string | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FieldError(`${field} is not a finite number (${value})`);
    return String(value);
  }
  const tag = bsonType(value);
  if (tag === 'Decimal128') return checkedDecimal(field, (value as BsonValue).toString());
  if (tag === 'Long') return (value as BsonValue).toString();
  if (tag === 'Int32' || tag === 'Double') return decimalText(field, (value as BsonValue).valueOf());
  if (typeof value === 'string') return checkedDecimal(field, value.trim());
  throw new FieldError(`${field} is not a number (${describe(value)})`);
}

function checkedDecimal(field: string, text: string): string {
  if (!DECIMAL_TEXT.test(text))
    throw new FieldError(`${field} is not a finite decimal number ("${text.slice(0, 40)}")`);
  return text;
}

/** ISO text of a date given as a BSON date, an ISO string or epoch milliseconds. */
export function dateText(field: string, value: unknown): string | undefined {
  if (isAbsent(value)) return undefined;
  let date: Date | undefined;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string') date = new Date(value.trim());
  else if (typeof value === 'number' || typeof value === 'bigint') date = new Date(Number(value));
  else if (bsonType(value) === 'Long') date = new Date(Number((value as BsonValue).toString()));
  if (date === undefined) throw new FieldError(`${field} is not a date (${describe(value)})`);
  if (Number.isNaN(date.getTime())) throw new FieldError(`${field} is not a valid date (${describe(value)})`);
  return date.toISOString();
}

/** A trimmed string, undefined when absent or empty. */
export function text(field: string, value: unknown, maxLength: number): string | undefined {
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'string') throw new FieldError(`${field} is not a string (${describe(value)})`);
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (trimmed.length > maxLength) throw new FieldError(`${field} is longer than ${maxLength} characters`);
  return trimmed;
}

/**
 * An _id, or a reference to one, with its BSON type: `{"_id": 3}`, `{"_id": "3"}` and an ObjectId
 * and its hex string are different documents, so the type is part of the key. Numbers are one
 * type, as MongoDB's own _id index takes Int32 3, Int64 3 and Double 3.0 for one value.
 */
export type MongoIdType = 'objectId' | 'string' | 'number';

export interface MongoId {
  /** Hex for an ObjectId, the string as is, the decimal text of a number. */
  text: string;
  type: MongoIdType;
}

/** The _id (or reference) `value` as a typed key; undefined when absent or an empty string. */
export function mongoId(field: string, value: unknown): MongoId | undefined {
  if (isAbsent(value)) return undefined;
  const tag = bsonType(value);
  if (tag === 'ObjectId') return { text: (value as BsonValue).toHexString!(), type: 'objectId' };
  // Kept exactly (no trimming): " 3" and "3" are two _ids.
  if (typeof value === 'string') return value === '' ? undefined : { text: value, type: 'string' };
  if (typeof value === 'number' || typeof value === 'bigint' || tag === 'Long' || tag === 'Int32' || tag === 'Double') {
    return { text: decimalText(field, value)!, type: 'number' };
  }
  throw new FieldError(`${field} is not an id (${describe(value)})`);
}

/** A document's `_id`, which every mapped row needs: a FieldError when it has none. */
export function documentId(doc: { _id?: unknown }): MongoId {
  const id = mongoId('_id', doc._id);
  if (id === undefined) throw new FieldError('no _id');
  return id;
}

/** One string per typed id, for maps and job ids: `objectId:65a...`, `string:3`, `number:3`. */
export function idKey(id: MongoId): string {
  return `${id.type}:${id.text}`;
}

/** An id as messages and reject positions show it: an ObjectId's hex, a number's digits, a string quoted. */
export function showId(id: MongoId): string {
  return id.type === 'string' ? JSON.stringify(id.text) : id.text;
}

/** `showId` of any _id value, or its Extended JSON when it cannot be an id. */
export function showIdValue(value: unknown): string {
  try {
    const id = mongoId('_id', value);
    if (id !== undefined) return showId(id);
  } catch {
    // not an id type: shown as Extended JSON below
  }
  return JSON.stringify(value) ?? String(value);
}

/** The creation time an ObjectId carries, used when a document has no createdAt. */
export function objectIdTime(value: unknown): string | undefined {
  return bsonType(value) === 'ObjectId' ? (value as BsonValue).getTimestamp!().toISOString() : undefined;
}

/** The first field of `names` that is present. */
export function firstOf(doc: Record<string, unknown>, names: readonly string[]): { name: string; value: unknown } {
  for (const name of names) {
    if (!isAbsent(doc[name])) return { name, value: doc[name] };
  }
  return { name: names[0]!, value: undefined };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    return bsonType(value) ?? (Array.isArray(value) ? 'array' : 'object');
  }
  return typeof value;
}
