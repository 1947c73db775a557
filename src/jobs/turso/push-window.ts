import type { SqliteDb } from '../../bots/bot-database-file.js';
import { tableWindow, windowable, windowIds, WINDOW_RULES } from '../../bots/change-window.js';
import type { PgPool } from '../../connections/postgres.js';
import { recordedMaxKey, recordedPage, recordedRowsOf } from './push-state.js';
import { decodeSortKey, sortKey } from './row-keys.js';
import { keyed, PAGE_ROWS, RowCursor, type HashedRow, type KeyedRow, type Pager } from './row-streams.js';
import type { SqlValue } from './sql-values.js';
import { quoteIdent, type TableSchema } from './table-schema.js';

/**
 * turso-push's change windows (bots/change-window.ts) for the tables FreqTrade changes by known
 * rules (trades, orders, wallet_history, trade_custom_data, pairlocks): per table, the sorted ids whose rows the push reads,
 * hashes and compares with the records. They are the window's rows and the ids only one side
 * has (new rows, deletions), found by merging every source id (index only) with the recorded
 * keys; every other row is taken as unchanged. Other tables are hashed whole.
 */
export type PushWindows = Map<string, number[]>;

/** Windows of these tables (trades before orders: an order comes along with its trade). */
export async function planPushWindows(
  pg: PgPool,
  instance: string,
  db: SqliteDb,
  tables: readonly TableSchema[],
  since: Date,
  openKeys: Record<string, number[]>,
): Promise<PushWindows> {
  const windows: PushWindows = new Map();
  let tradeIds: number[] = [];
  for (const name of Object.keys(WINDOW_RULES)) {
    const table = tables.find((t) => t.name === name);
    if (table === undefined || !windowable(db, name)) continue;
    const max = await recordedMaxKey(pg, instance, name);
    const maxId = max === undefined ? Number.MIN_SAFE_INTEGER : Number(decodeSortKey(max)[0]);
    const window = tableWindow(db, name, since, { maxId, openIds: openKeys[name] ?? [] }, tradeIds);
    const ids = windowIds(db, window);
    if (name === 'trades') tradeIds = ids;
    const keys = new Set([...ids, ...(await oneSidedIds(pg, instance, db, table))]);
    windows.set(
      name,
      [...keys].sort((a, b) => a - b),
    );
  }
  return windows;
}

/** The ids of rows only the source or only the records have: a merge of both in key order, no row read. */
async function oneSidedIds(pg: PgPool, instance: string, db: SqliteDb, table: TableSchema): Promise<number[]> {
  const sql = `SELECT rowid FROM ${quoteIdent(table.name)} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE_ROWS}`;
  const statement = db.prepare<[bigint], unknown[]>(sql).raw(true);
  const source = new RowCursor<HashedRow>(async (after) => {
    const from = after === undefined ? -(2n ** 63n) : (decodeSortKey(after.key)[0] as bigint);
    return statement.all(from).map((r) => ({ key: sortKey([r[0] as bigint]), hash: EMPTY }));
  }, `ids of ${table.name}`);
  const recorded = new RowCursor<HashedRow>(
    (after) => recordedPage(pg, instance, table.name, after?.key, PAGE_ROWS),
    `recorded keys of ${table.name}`,
  );
  const found: number[] = [];
  for (;;) {
    const [s, r] = [await source.peek(), await recorded.peek()];
    if (s === undefined && r === undefined) return found;
    const order = s === undefined ? 1 : r === undefined ? -1 : Buffer.compare(s.key, r.key);
    if (order <= 0) await source.next();
    if (order >= 0) await recorded.next();
    if (order !== 0) found.push(Number(decodeSortKey((order < 0 ? s : r)!.key)[0]));
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Pages of the source rows with these ids (sorted), in key order; a page is filled across ids the
 * source no longer has, so a short page means the end.
 */
export function windowSourcePager(db: SqliteDb, table: TableSchema, ids: readonly number[]): Pager<KeyedRow> {
  const key = quoteIdent(table.primaryKey[0]!);
  const statement = db
    .prepare<[string], SqlValue[]>(
      `SELECT ${key}, ${table.columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(table.name)}
       WHERE ${key} IN (SELECT value FROM json_each(?)) ORDER BY ${key}`,
    )
    .raw(true);
  let at = 0;
  return async () => {
    const rows: KeyedRow[] = [];
    while (rows.length < PAGE_ROWS && at < ids.length) {
      const chunk = ids.slice(at, at + PAGE_ROWS);
      at += chunk.length;
      for (const raw of statement.all(JSON.stringify(chunk))) rows.push(keyed(table, raw));
    }
    return rows;
  };
}

/** Pages of the recorded rows with these ids (sorted), in key order, filled as the source's are. */
export function windowRecordedPager(
  pg: PgPool,
  instance: string,
  table: string,
  ids: readonly number[],
): Pager<HashedRow> {
  let at = 0;
  return async () => {
    const rows: HashedRow[] = [];
    while (rows.length < PAGE_ROWS && at < ids.length) {
      const chunk = ids.slice(at, at + PAGE_ROWS);
      at += chunk.length;
      rows.push(
        ...(await recordedRowsOf(
          pg,
          instance,
          table,
          chunk.map((id) => sortKey([BigInt(id)])),
        )),
      );
    }
    return rows;
  };
}

/** The ids of the rows open now, per windowed table that has an open column: the next window reads them. */
export function openKeys(db: SqliteDb, tables: readonly TableSchema[]): Record<string, number[]> {
  const open: Record<string, number[]> = {};
  for (const table of tables) {
    const column = WINDOW_RULES[table.name]?.open;
    if (column === undefined || !table.columns.includes(column) || !windowable(db, table.name)) continue;
    open[table.name] = db
      .prepare<[], unknown[]>(`SELECT rowid FROM ${quoteIdent(table.name)} WHERE ${quoteIdent(column)} IS NOT 0`)
      .raw(true)
      .all()
      .map((r) => Number(r[0]));
  }
  return open;
}
