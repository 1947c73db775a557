import type { Client } from '@libsql/client';
import type { SqliteDb } from '../../bots/bot-database-file.js';
import type { TableHashes } from './push-state.js';
import { encodeKey, rowHash, type SqlValue } from './sql-values.js';
import { keyColumns, quoteIdent, type TableSchema } from './table-schema.js';

function selectList(table: TableSchema): string {
  return [...keyColumns(table), ...table.columns.map(quoteIdent)].join(', ');
}

/** Key -> MD5 of every row of a source table, streamed: only keys and hashes stay in memory. */
export function hashSourceTable(db: SqliteDb, table: TableSchema): TableHashes {
  const width = keyColumns(table).length;
  const statement = db
    .prepare(`SELECT ${selectList(table)} FROM ${quoteIdent(table.name)}`)
    .raw(true)
    .safeIntegers(true);
  const hashes: TableHashes = new Map();
  for (const row of statement.iterate() as IterableIterator<SqlValue[]>) {
    hashes.set(encodeKey(row.slice(0, width)), rowHash(row.slice(width)));
  }
  return hashes;
}

/** Reads one source row by its key (undefined when it is gone), for the rows a push sends. */
export function sourceRowReader(
  db: SqliteDb,
  table: TableSchema,
): (key: readonly SqlValue[]) => SqlValue[] | undefined {
  const where = keyColumns(table)
    .map((column) => `${column} IS ?`)
    .join(' AND ');
  const statement = db
    .prepare(`SELECT ${table.columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(table.name)} WHERE ${where}`)
    .raw(true)
    .safeIntegers(true);
  return (key) => statement.get(...key) as SqlValue[] | undefined;
}

const TARGET_PAGE_ROWS = 2000;

/**
 * Key -> MD5 of every row the target holds, hashed exactly as the source is: what a full compare
 * (no trustworthy metadata) diffs against. Paged by rowid, so no response grows with the table.
 */
export async function hashTargetTable(client: Client, table: TableSchema, signal?: AbortSignal): Promise<TableHashes> {
  const width = keyColumns(table).length;
  const withoutRowid = /\)\s*WITHOUT\s+ROWID\s*;?\s*$/i.test(table.createSql);
  const hashes: TableHashes = new Map();
  let after: SqlValue = null;
  for (let offset = 0; ; offset += TARGET_PAGE_ROWS) {
    signal?.throwIfAborted();
    const sql = withoutRowid
      ? `SELECT ${selectList(table)} FROM ${quoteIdent(table.name)} ORDER BY ${keyColumns(table).join(', ')} LIMIT ${TARGET_PAGE_ROWS} OFFSET ${offset}`
      : `SELECT rowid, ${selectList(table)} FROM ${quoteIdent(table.name)} ${after === null ? '' : 'WHERE rowid > ? '}ORDER BY rowid LIMIT ${TARGET_PAGE_ROWS}`;
    const result = await client.execute(after === null ? sql : { sql, args: [after] });
    for (const row of result.rows) {
      const values = Array.from(row) as SqlValue[];
      const start = withoutRowid ? 0 : 1;
      hashes.set(encodeKey(values.slice(start, start + width)), rowHash(values.slice(start + width)));
      if (!withoutRowid) after = values[0]!;
    }
    if (result.rows.length < TARGET_PAGE_ROWS) return hashes;
  }
}
