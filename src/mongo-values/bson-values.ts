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

/** The string form of an _id or a reference to one: hex for ObjectId, digits for numbers. */
export function idText(field: string, value: unknown): string | undefined {
  if (isAbsent(value)) return undefined;
  const tag = bsonType(value);
  if (tag === 'ObjectId') return (value as BsonValue).toHexString!();
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number' || typeof value === 'bigint' || tag === 'Long' || tag === 'Int32') {
    return decimalText(field, value);
  }
  throw new FieldError(`${field} is not an id (${describe(value)})`);
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
