import { EJSON, type Document } from 'bson';

/**
 * Parses one Extended JSON document (canonical or relaxed, as mongoexport writes it) without
 * losing a digit: `$numberLong` becomes a bigint (bson's default relaxed parse would round
 * anything beyond 2^53 to a JS number silently), `$numberDecimal` stays a Decimal128.
 * Relaxed mode is kept on purpose: canonical mode (`relaxed: false`) refuses a `$date` given as
 * a plain number of milliseconds, which exports from other tools contain; `useBigInt64` is what
 * keeps the 64-bit integers exact.
 */
export function parseEjson(text: string): Document {
  const value: unknown = EJSON.parse(text, { relaxed: true, useBigInt64: true });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('expected a JSON object (one document)');
  }
  return value as Document;
}

/** Turns a JSON payload (a document as Extended JSON, already JSON.parse'd) into BSON values. */
export function deserializeEjson(value: Record<string, unknown>): Document {
  return EJSON.deserialize(value, { relaxed: true, useBigInt64: true }) as Document;
}

/** Canonical Extended JSON text of a document: exact, and readable back by parseEjson. */
export function canonicalEjson(value: unknown): string {
  return EJSON.stringify(value, { relaxed: false });
}
