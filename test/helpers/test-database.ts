import pg from 'pg';
import type { Config } from '../../src/config.js';
import { createPgPool, type PgPool } from '../../src/connections/postgres.js';
import { migrate } from '../../src/migrate/migrate.js';
import { quoteIdent } from '../../src/sql-identifier.js';

export interface TestDatabase {
  pool: PgPool;
  /** Drops the schema (call it when the tests passed; keep the data to look at when they failed). */
  drop(): Promise<void>;
  close(): Promise<void>;
}

/** Creates and migrates the test's own schema; every table the code touches lives in it. */
export async function createTestDatabase(config: Config, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: config.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(config.PG_SCHEMA)}`);
  await admin.end();
  const pool = createPgPool(config);
  if (options.migrate !== false) await migrate(pool, config.PG_SCHEMA);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await pool.end();
  };
  return {
    pool,
    close,
    async drop() {
      await close();
      const client = new pg.Client({ connectionString: config.DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(config.PG_SCHEMA)} CASCADE`);
      await client.end();
    },
  };
}
