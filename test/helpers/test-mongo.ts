import { randomBytes } from 'node:crypto';
import { MongoClient, type Db, type Document } from 'mongodb';
import { TEST_MONGO_URL } from './test-config.js';

export interface TestMongo {
  url: string;
  db: Db;
  /** Drops the test's database (unless kept to look at) and closes the client. */
  cleanup(options?: { keep?: boolean }): Promise<void>;
}

/** A MongoDB database of the test's own on the test server (FerretDB), dropped at the end. */
export async function createTestMongo(label: string): Promise<TestMongo> {
  const name = `t_${label.replace(/[^a-z0-9]+/gi, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const base = TEST_MONGO_URL.endsWith('/') ? TEST_MONGO_URL : `${TEST_MONGO_URL}/`;
  const url = `${base}${name}`;
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const db = client.db();
  return {
    url,
    db,
    async cleanup(options = {}) {
      if (!options.keep) await db.dropDatabase();
      await client.close();
    },
  };
}

/**
 * FerretDB (the test server) has no Decimal128: store those values as strings, which the
 * mappers accept as well. Files carry the real Decimal128 in the file tests.
 */
export function withoutDecimal128(value: unknown): unknown {
  if ((value as { _bsontype?: unknown } | null)?._bsontype === 'Decimal128') return String(value);
  if (Array.isArray(value)) return value.map(withoutDecimal128);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value as Document).map(([key, item]) => [key, withoutDecimal128(item)]));
  }
  return value;
}
