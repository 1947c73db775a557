/**
 * The BSON type of a value, by its `_bsontype` tag rather than `instanceof`: the MongoDB driver
 * loads bson's CommonJS build while this ESM code imports its ES module build, so the same
 * Decimal128 or ObjectId arrives as an instance of another class (the dual-package hazard).
 */
export type BsonTag = 'ObjectId' | 'Decimal128' | 'Long' | 'Int32' | 'Double' | 'Binary' | 'Timestamp' | (string & {});

export function bsonType(value: unknown): BsonTag | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

/** Methods shared by the BSON value classes this code reads. */
export interface BsonValue {
  toString(format?: string): string;
  valueOf(): unknown;
  toHexString?(): string;
  getTimestamp?(): Date;
}
