import type pg from 'pg';
import { pollSessionLock, releaseSessionLock } from '../connections/advisory-locks.js';
import type { PgPool } from '../connections/postgres.js';
import { withTransaction } from '../connections/transaction.js';
import { readMigrationFiles, splitStatements, DEFAULT_MIGRATIONS_DIR, type MigrationFile } from './migration-files.js';
import { quoteIdent } from '../sql-identifier.js';

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations to the pool's schema, each in its own transaction, recorded in
 * schema_migrations. An advisory lock keyed by the schema makes concurrent starts take turns,
 * so running it twice (or from every process at once) is safe. A landed file that was edited
 * afterwards stops the run: migrations are never edited once applied. A file marked
 * no-transaction (migration-files.ts) runs statement by statement: see applyWithoutTransaction.
 */
export async function migrate(pool: PgPool, schema: string, dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrateResult> {
  const files = await readMigrationFiles(dir);
  const client = await pool.connect();
  try {
    await pollSessionLock(client, 'migrations', schema);
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
          if (landed !== file.checksum && !file.earlierChecksums.includes(landed)) {
            throw new Error(
              `Migration ${file.version}_${file.name}.sql changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        try {
          if (file.transactional) {
            await withTransaction(client, async (tx) => {
              await tx.query(file.sql);
              await record(tx, file);
            });
          } else {
            await applyWithoutTransaction(client, schema, file);
            await record(client, file);
          }
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

async function record(client: pg.ClientBase, file: MigrationFile): Promise<void> {
  await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
    file.version,
    file.name,
    file.checksum,
  ]);
}

/** `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON`: the index's name, quoted or not. */
const CONCURRENT_INDEX =
  /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s+ON\s+(?:ONLY\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$.]*)/i;

const unquoted = (name: string): string =>
  name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();

/** The index a concurrent build makes, and the table it is on (as written), or undefined. */
function concurrentIndex(statement: string): { name: string; table: string } | undefined {
  const match = CONCURRENT_INDEX.exec(statement);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return { name: unquoted(match[1]), table: match[2] };
}

/**
 * Runs a no-transaction file's statements one by one, each committed on its own, so that
 * CREATE INDEX CONCURRENTLY builds an index while the table takes writes. A run cut short (a
 * crash, a cancel, a lost connection) leaves the file unrecorded and maybe an INVALID index
 * that PostgreSQL keeps updating but never reads; the next run resumes: an index already valid
 * is kept, an invalid one is dropped (concurrently too) and built again. Any other statement
 * of such a file must be safe to run again (IF NOT EXISTS).
 */
async function applyWithoutTransaction(client: pg.ClientBase, schema: string, file: MigrationFile): Promise<void> {
  for (const statement of splitStatements(file.sql, `${file.version}_${file.name}.sql`)) {
    const index = concurrentIndex(statement);
    if (index !== undefined) {
      const { name } = index;
      const { rows } = await client.query<{ valid: boolean }>(
        `SELECT i.indisvalid AS valid
           FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, name],
      );
      if (rows[0]?.valid === true) continue;
      if (rows[0]?.valid === false) {
        await client.query(`DROP INDEX CONCURRENTLY ${quoteIdent(schema)}.${quoteIdent(name)}`);
      }
      // An empty table (a new install, every test's schema) has nothing to build: a plain build
      // holds its lock for milliseconds, where a concurrent one waits for every older
      // transaction in the whole database.
      const { rowCount } = await client.query(`SELECT 1 FROM ${index.table} LIMIT 1`);
      if (rowCount === 0) {
        await client.query(statement.replace(/\s+CONCURRENTLY\b/i, ''));
        continue;
      }
    }
    await client.query(statement);
  }
}
