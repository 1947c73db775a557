import type Database from 'better-sqlite3';
import type { SqliteDb } from './bot-database-file.js';

/**
 * What a connection to a bot's file keeps between its reads: its prepared statements and its
 * tables' columns. A connection kept open across runs (bot-sync/bot-database-cache.ts) keeps
 * them across runs too, until its schema changes (forgetSchema); a run's own connection, for its run.
 */

/** A statement's rows: raw arrays, or objects keyed by column name. */
export type RowMode = 'raw' | 'objects';

const statements = new WeakMap<SqliteDb, Map<string, Database.Statement<unknown[], unknown>>>();

/**
 * The connection's statement for this SQL text in this row mode, prepared once. Keyed by mode
 * too, so no caller sees rows in another's mode (`.raw()` is the statement's own state). A
 * statement still iterating (a reader within a reader) cannot be run again: a fresh one is
 * prepared for that read.
 */
export function prepareCached<P extends unknown[] = unknown[], R = unknown>(
  db: SqliteDb,
  sql: string,
  mode: RowMode,
): Database.Statement<P, R> {
  let prepared = statements.get(db);
  if (prepared === undefined) statements.set(db, (prepared = new Map()));
  const key = `${mode}\u0000${sql}`;
  let statement = prepared.get(key);
  if (statement === undefined || statement.busy) {
    const fresh = db.prepare<unknown[], unknown>(sql);
    if (mode === 'raw') fresh.raw(true);
    if (statement === undefined) prepared.set(key, fresh);
    statement = fresh;
  }
  return statement as unknown as Database.Statement<P, R>;
}

/** A column as `pragma_table_info` gives it. */
export interface TableColumn {
  name: string;
  type: string;
  /** Its place in the primary key (1, 2, ...), 0 when not in it. */
  pk: number;
}

const tableColumns = new WeakMap<SqliteDb, Map<string, readonly TableColumn[]>>();

/** The table's columns, read once per connection and schema (none: the table is not there). */
export function tableInfo(db: SqliteDb, table: string): readonly TableColumn[] {
  let tables = tableColumns.get(db);
  if (tables === undefined) tableColumns.set(db, (tables = new Map()));
  let columns = tables.get(table);
  if (columns === undefined) {
    columns = prepareCached<[string], { name: string; type: string; pk: number | bigint }>(
      db,
      'SELECT name, type, pk FROM pragma_table_info(?)',
      'objects',
    )
      .all(table)
      .map((c) => ({ name: c.name, type: c.type, pk: Number(c.pk) }));
    tables.set(table, columns);
  }
  return columns;
}

/** Whether the table's key is this one column declared INTEGER (the rowid itself: it cannot repeat). */
export function keyedByRowid(db: SqliteDb, table: string, key: string): boolean {
  const pk = tableInfo(db, table).filter((c) => c.pk > 0);
  return pk.length === 1 && pk[0]!.name === key && pk[0]!.type.toUpperCase() === 'INTEGER';
}

/**
 * Drops what was read of the connection's schema and the statements prepared against it: a
 * statement of `SELECT *` would keep the columns it had, a plan the tables it saw.
 */
export function forgetSchema(db: SqliteDb): void {
  statements.delete(db);
  tableColumns.delete(db);
}
