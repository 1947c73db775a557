import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** SQLite declared type -> the PostgreSQL type the sync's tables use for it. */
function pgType(declared: string): string {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'bigint';
  if (t.includes('FLOAT') || t.includes('REAL') || t.includes('NUMERIC')) return 'numeric';
  if (t.includes('BOOL')) return 'boolean';
  if (t.includes('DATE') || t.includes('TIME')) return 'timestamp';
  return 'text';
}

/**
 * The floor a sync is measured against: a FreqTrade table exported by the sqlite3 tool as CSV
 * and loaded with plain COPY into an indexed PostgreSQL table of the same columns, no merge,
 * no hashes, no checks.
 */
export async function copyFloor(
  client: PoolClient,
  bot: string,
  file: string,
  table: 'trades' | 'orders',
  target: string,
  indexes: readonly string[],
): Promise<number> {
  const db = new Database(file, { readonly: true });
  const columns = db
    .prepare<[], { name: string; type: string }>(`SELECT name, type FROM pragma_table_info('${table}')`)
    .all();
  db.close();
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${target} (bot text NOT NULL, ${columns.map((c) => `"${c.name}" ${pgType(c.type)}`).join(', ')}, UNIQUE (bot, id))`,
  );
  for (const index of indexes)
    await client.query(`CREATE INDEX IF NOT EXISTS ${target}_${index} ON ${target} (bot, "${index}")`);
  const exporter = spawn('sqlite3', ['-readonly', '-csv', file, `SELECT '${bot}', * FROM "${table}"`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const copy = client.query(copyFrom(`COPY ${target} FROM STDIN WITH (FORMAT csv)`));
  await pipeline(exporter.stdout, copy);
  return copy.rowCount;
}
