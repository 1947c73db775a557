import { releaseSessionLock, takeSessionLock } from '../connections/advisory-locks.js';
import type { PgPool } from '../connections/postgres.js';
import { withTransaction } from '../connections/transaction.js';
import { readMigrationFiles, DEFAULT_MIGRATIONS_DIR } from './migration-files.js';
import { quoteIdent } from '../sql-identifier.js';

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations to the pool's schema, each in its own transaction, recorded in
 * schema_migrations. An advisory lock keyed by the schema makes concurrent starts take turns,
 * so running it twice (or from every process at once) is safe. A landed file that was edited
 * afterwards stops the run: migrations are never edited once applied.
 */
export async function migrate(pool: PgPool, schema: string, dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrateResult> {
  const files = await readMigrationFiles(dir);
  const client = await pool.connect();
  try {
    await takeSessionLock(client, 'migrations', schema);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          checksum TEXT NOT NULL,
          applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`);
      const done = new Map<string, string>();
      const { rows } = await client.query<{ version: string; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations',
      );
      for (const row of rows) done.set(row.version, row.checksum);

      const applied: string[] = [];
      for (const file of files) {
        const landed = done.get(file.version);
        if (landed !== undefined) {
          if (landed !== file.checksum) {
            throw new Error(
              `Migration ${file.version}_${file.name}.sql changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        try {
          await withTransaction(client, async (tx) => {
            await tx.query(file.sql);
            await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
              file.version,
              file.name,
              file.checksum,
            ]);
          });
        } catch (error) {
          throw new Error(`Migration ${file.version}_${file.name}.sql failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
        applied.push(`${file.version}_${file.name}`);
      }
      return { applied, alreadyApplied: files.length - applied.length };
    } finally {
      await releaseSessionLock(client, 'migrations', schema);
    }
  } finally {
    client.release();
  }
}
