import type { Client } from '@libsql/client';
import type { SqliteDb } from '../bots/bot-database-file.js';
import { prepareCached } from '../bots/sqlite-cache.js';
import type { PgPool } from '../connections/postgres.js';
import { recordedPage, recordedRowsOf } from './push-state.js';
import { rowDigest, sortKey, type SqlValue } from './row-values.js';
import { keyColumns, type TableSchema } from './table-schema.js';
import { quoteIdent } from '../sql-identifier.js';

/**
 * The three sides of a push, each read a page at a time in key order (row-values.ts sortKey): the bot's
 * SQLite, the target, and the rows PostgreSQL records the target holds. A merge of two of them
 * finds what to insert, update and delete holding only a page of each in memory.
 */

export const PAGE_ROWS = 2000;

/** A row of the source or the target: key values, values, and both as push-state bytes. */
export interface KeyedRow {
  key: Buffer;
  hash: Buffer;
  keyValues: SqlValue[];
  values: SqlValue[];
}

/** What the previous push left, as far as a merge needs it. */
export interface HashedRow {
  key: Buffer;
  hash: Buffer;
}

/** Keyed by the rowid itself (no primary key, or an INTEGER PRIMARY KEY, its alias): no collation. */
function keyedByRowid(table: TableSchema): boolean {
  if (table.primaryKey.length === 0) return true;
  const index = table.columns.indexOf(table.primaryKey[0]!);
  return table.primaryKey.length === 1 && /^\s*INTEGER\s*$/i.test(table.columnTypes[index] ?? '');
}

/**
 * The SELECT of one page after the last key read: keyset pagination (`(k1, k2) > (?, ?)`), so a
 * page costs the same wherever it is and concurrent inserts never shift it. Text keys are
 * compared and ordered in BINARY collation, the order of sortKey's bytes.
 */
function pageSql(table: TableSchema, after: boolean): string {
  const keys = keyColumns(table);
  const ordered = keyedByRowid(table) ? keys : keys.map((k) => `${k} COLLATE BINARY`);
  const where = after ? ` WHERE (${ordered.join(', ')}) > (${keys.map(() => '?').join(', ')})` : '';
  return `SELECT ${[...keys, ...table.columns.map(quoteIdent)].join(', ')} FROM ${quoteIdent(table.name)}${where} ORDER BY ${ordered.join(', ')} LIMIT ${PAGE_ROWS}`;
}

/** A row read as key values then values (pageSql's columns), keyed and hashed. */
export function keyed(table: TableSchema, raw: SqlValue[]): KeyedRow {
  const width = keyColumns(table).length;
  const keyValues = raw.slice(0, width);
  const values = raw.slice(width);
  return { key: sortKey(keyValues), hash: rowDigest(values), keyValues, values };
}

export type Pager<T> = (after: T | undefined) => Promise<T[]>;

/** Pages of the bot's table; each page is its own short read, so FreqTrade is never blocked long. */
export function sourcePager(db: SqliteDb, table: TableSchema): Pager<KeyedRow> {
  const first = prepareCached(db, pageSql(table, false), 'raw').safeIntegers(true);
  const next = prepareCached(db, pageSql(table, true), 'raw').safeIntegers(true);
  return async (after) => {
    const rows = (after === undefined ? first.all() : next.all(...after.keyValues)) as SqlValue[][];
    return rows.map((raw) => keyed(table, raw));
  };
}

/** Pages of the target's copy of the table, hashed exactly as the source is. */
export function targetPager(client: Client, table: TableSchema): Pager<KeyedRow> {
  return async (after) => {
    const sql = pageSql(table, after !== undefined);
    const result = await client.execute(after === undefined ? sql : { sql, args: after.keyValues });
    return result.rows.map((row) => keyed(table, Array.from(row) as SqlValue[]));
  };
}

/** Pages of what PostgreSQL records the target holds of the table. */
export function recordedPager(pg: PgPool, instance: string, table: string): Pager<HashedRow> {
  return (after) => recordedPage(pg, instance, table, after?.key, PAGE_ROWS);
}

/**
 * Pages of rows looked up by these ids (sorted), a chunk of ids at a time; a page is filled across
 * ids a side no longer has, so a short page means the end.
 */
function idPager<T>(ids: readonly number[], rowsOf: (chunk: number[]) => Promise<T[]>): Pager<T> {
  let at = 0;
  return async () => {
    const rows: T[] = [];
    while (rows.length < PAGE_ROWS && at < ids.length) {
      const chunk = ids.slice(at, at + PAGE_ROWS);
      at += chunk.length;
      rows.push(...(await rowsOf(chunk)));
    }
    return rows;
  };
}

/** Pages of the source rows with these ids (a change window's), in key order. */
export function windowSourcePager(db: SqliteDb, table: TableSchema, ids: readonly number[]): Pager<KeyedRow> {
  const key = quoteIdent(table.primaryKey[0]!);
  const statement = prepareCached<[string], SqlValue[]>(
    db,
    `SELECT ${key}, ${table.columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(table.name)}
       WHERE ${key} IN (SELECT value FROM json_each(?)) ORDER BY ${key}`,
    'raw',
  );
  return idPager(ids, async (chunk) => statement.all(JSON.stringify(chunk)).map((raw) => keyed(table, raw)));
}

/** Pages of the recorded rows with these ids (a change window's), in key order. */
export function windowRecordedPager(
  pg: PgPool,
  instance: string,
  table: string,
  ids: readonly number[],
): Pager<HashedRow> {
  return idPager(ids, (chunk) =>
    recordedRowsOf(
      pg,
      instance,
      table,
      chunk.map((id) => sortKey([BigInt(id)])),
    ),
  );
}

/** Reads a pager row by row, checking that keys strictly increase (the merge relies on it). */
export class RowCursor<T extends HashedRow> implements RowReader<T> {
  private page: T[] = [];
  private at = 0;
  private last: T | undefined;
  private ended = false;

  constructor(
    private readonly pager: Pager<T>,
    private readonly what: string,
    private readonly signal?: AbortSignal,
  ) {}

  async peek(): Promise<T | undefined> {
    while (this.at >= this.page.length) {
      if (this.ended) return undefined;
      this.signal?.throwIfAborted();
      this.page = await this.pager(this.page.at(-1) ?? this.last);
      this.at = 0;
      if (this.page.length < PAGE_ROWS) this.ended = true;
    }
    return this.page[this.at];
  }

  async next(): Promise<T | undefined> {
    const row = await this.peek();
    if (row === undefined) return undefined;
    if (this.last !== undefined && Buffer.compare(this.last.key, row.key) >= 0)
      throw new Error(
        `${this.what}: rows do not come in key order (a key column mixing integer and real values?); the push cannot compare it`,
      );
    this.last = row;
    this.at += 1;
    return row;
  }
}

/** What a merge reads: rows in strictly increasing key order. */
export interface RowReader<T> {
  peek(): Promise<T | undefined>;
  next(): Promise<T | undefined>;
}

export type Change =
  { kind: 'insert' | 'update'; row: KeyedRow } | { kind: 'same'; row: KeyedRow } | { kind: 'delete'; key: Buffer };

/** The merge of the source with what the target holds (recorded or read), in key order. */
export async function* mergeRows(source: RowReader<KeyedRow>, previous: RowReader<HashedRow>): AsyncGenerator<Change> {
  for (;;) {
    const [s, p] = [await source.peek(), await previous.peek()];
    if (s === undefined && p === undefined) return;
    const order = s === undefined ? 1 : p === undefined ? -1 : Buffer.compare(s.key, p.key);
    if (order < 0) {
      yield { kind: 'insert', row: (await source.next())! };
    } else if (order > 0) {
      yield { kind: 'delete', key: (await previous.next())!.key };
    } else {
      const row = (await source.next())!;
      const before = (await previous.next())!;
      yield { kind: row.hash.equals(before.hash) ? 'same' : 'update', row };
    }
  }
}
