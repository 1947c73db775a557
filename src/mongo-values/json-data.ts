import { bsonType, type BsonValue } from './bson-type.js';

/**
 * A document as plain JSON text for a JSONB column, numbers kept exact: JSONB stores numbers
 * as NUMERIC, so a bigint or Decimal128 is written as a number literal with all its digits
 * (JSON.stringify would throw on a bigint and quote a Decimal128). ObjectIds become hex
 * strings and dates ISO strings, so the column is queryable without Extended JSON wrappers.
 */
export function jsonDataText(value: unknown): string {
  return write(value);
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function write(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
    case 'bigint':
      return value.toString();
    case 'object':
      return writeObject(value);
    default:
      return 'null';
  }
}

function writeObject(value: object): string {
  if (Array.isArray(value)) return `[${value.map((item: unknown) => write(item)).join(',')}]`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'null' : JSON.stringify(value.toISOString());
  const tag = bsonType(value);
  if (tag !== undefined) {
    const bson = value as BsonValue;
    if (tag === 'ObjectId') return JSON.stringify(bson.toHexString!());
    if (tag === 'Decimal128' || tag === 'Long') return numberOrString(bson.toString());
    if (tag === 'Int32' || tag === 'Double') return write(bson.valueOf());
    if (tag === 'Binary') return JSON.stringify(bson.toString('base64'));
    return JSON.stringify(bson.toString());
  }
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${write(item)}`);
  }
  return `{${parts.join(',')}}`;
}

function numberOrString(text: string): string {
  return JSON_NUMBER.test(text) ? text : JSON.stringify(text);
}
