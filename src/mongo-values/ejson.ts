import { Decimal128, EJSON, Long, ObjectId, type Document } from 'bson';

const OPTIONS = { relaxed: true, useBigInt64: true } as const;

/**
 * Parses one Extended JSON document (canonical or relaxed, as mongoexport writes it) without
 * losing a digit: `$numberLong` becomes a bigint (bson's default relaxed parse would round
 * anything beyond 2^53 to a JS number silently), `$numberDecimal` stays a Decimal128.
 * Relaxed mode is kept on purpose: canonical mode (`relaxed: false`) refuses a `$date` given as
 * a plain number of milliseconds, which exports from other tools contain; `useBigInt64` is what
 * keeps the 64-bit integers exact.
 *
 * The result is exactly bson's `EJSON.parse(text, { relaxed: true, useBigInt64: true })`, got
 * faster: a plain JSON.parse, then a walk that turns the wrappers mongoexport writes ($oid, $date,
 * $numberLong, $numberDecimal, $numberInt, $numberDouble) into values with bson's own
 * fromExtendedJSON, children first as bson's reviver does. Anything else (other `$` types,
 * `$` keys beside others, a NUL or `__proto__` key) is left to bson's EJSON.parse. bson calls
 * its reviver for every value of the document, which made the parse cost six times JSON.parse.
 */
export function parseEjson(text: string): Document {
  let value: unknown;
  if (text.includes('\\u0000') || text.includes('"__proto__"')) {
    value = EJSON.parse(text, OPTIONS);
  } else {
    value = JSON.parse(text);
    try {
      value = revive(value);
    } catch (error) {
      if (error !== UNUSUAL) throw error;
      value = EJSON.parse(text, OPTIONS);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('expected a JSON object (one document)');
  }
  return value as Document;
}

/** Thrown by revive for a wrapper it leaves to bson. */
const UNUSUAL = new Error('Extended JSON wrapper left to bson');

function revive(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null) value[i] = revive(item);
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  let wrapper: string | undefined;
  let keys = 0;
  for (const key in object) {
    keys += 1;
    if (key.charCodeAt(0) === 0x24) wrapper = key; // '$'
    const item = object[key];
    if (typeof item === 'object' && item !== null) {
      const revived = revive(item);
      if (revived !== item) object[key] = revived;
    }
  }
  if (wrapper === undefined) return object;
  if (keys !== 1) throw UNUSUAL;
  return fromWrapper(wrapper, object);
}

/**
 * What bson's deserializeValue makes of a one-key wrapper in relaxed mode with useBigInt64
 * (its fromExtendedJSON methods, spelled with their public equivalents where untyped).
 */
function fromWrapper(key: string, doc: Record<string, unknown>): unknown {
  const inner = doc[key];
  switch (key) {
    case '$oid':
      if (typeof inner !== 'string') throw UNUSUAL;
      return new ObjectId(inner);
    case '$numberLong':
      if (typeof inner !== 'string') throw UNUSUAL;
      return Long.fromExtendedJSON(doc as { $numberLong: string }, OPTIONS);
    case '$numberDecimal':
      if (typeof inner !== 'string') throw UNUSUAL;
      return Decimal128.fromString(inner);
    case '$numberInt':
      if (typeof inner !== 'string') throw UNUSUAL;
      return parseInt(inner, 10);
    case '$numberDouble':
      if (typeof inner !== 'string') throw UNUSUAL;
      return parseFloat(inner);
    case '$date': {
      // bson: a string is parsed, a (revived) $numberLong or a relaxed number is milliseconds.
      const date = new Date();
      if (typeof inner === 'string') date.setTime(Date.parse(inner));
      else if (typeof inner === 'bigint') date.setTime(Number(inner));
      else if (typeof inner === 'number') date.setTime(inner);
      else throw UNUSUAL;
      return date;
    }
    default:
      throw UNUSUAL;
  }
}

/** Turns a JSON payload (a document as Extended JSON, already JSON.parse'd) into BSON values. */
export function deserializeEjson(value: Record<string, unknown>): Document {
  return EJSON.deserialize(value, OPTIONS) as Document;
}

/** Canonical Extended JSON text of a document: exact, and readable back by parseEjson. */
export function canonicalEjson(value: unknown): string {
  return EJSON.stringify(value, { relaxed: false });
}
