import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
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
