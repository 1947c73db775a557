import type { SqliteDb } from '../bots/bot-database-file.js';
import { laterOf, scanWindow, windowable, WINDOW_RULES } from '../bots/change-window.js';
import type { PgPool } from '../connections/postgres.js';
import { recordedMaxKeys, recordedPage, recordedRowsOf } from './push-state.js';
import { decodeSortKey, sortKey } from './row-keys.js';
import { keyed, PAGE_ROWS, RowCursor, type HashedRow, type KeyedRow, type Pager } from './row-streams.js';
import type { SqlValue } from './sql-values.js';
import { quoteIdent, type TableSchema } from './table-schema.js';

/**
 * turso-push's change windows (bots/change-window.ts) for the tables FreqTrade changes by known
 * rules (trades, orders, wallet_history, trade_custom_data, pairlocks): per table, the sorted ids whose rows the push reads,
 * hashes and compares with the records. They are the window's rows and the ids only one side
 * has (new rows, deletions: see planPushWindows); every other row is taken as unchanged. Other
 * tables are hashed whole.
 */
export type PushWindows = Map<string, number[]>;

/** What planPushWindows read: the windows, and what their scans saw of the source on the way. */
export interface PlannedPushWindows {
  windows: PushWindows;
  /** The latest date of the tables in `windows` (the bot's clock), null when none. */
  highWater: Date | null;
  /** Per table in `windows` with an open column: the ids of the rows open now. */
  openIds: Record<string, number[]>;
}

/**
 * Windows of these tables (trades before orders: an order comes along with its trade), one scan
 * of each. The ids only one side has are the new ones (above the highest recorded id, in the
 * window already) unless the source's row count says some were deleted (or inserted below
 * that id): only then are every source id and recorded key merged.
 */
export async function planPushWindows(
  pg: PgPool,
  instance: string,
  db: SqliteDb,
  tables: readonly TableSchema[],
  since: Date,
  openKeys: Record<string, number[]>,
  /** The recorded rows per table. */
  recorded: ReadonlyMap<string, number>,
): Promise<PlannedPushWindows> {
  const planned: PlannedPushWindows = { windows: new Map(), highWater: null, openIds: {} };
  const names = Object.keys(WINDOW_RULES).filter((name) => tables.some((t) => t.name === name) && windowable(db, name));
  const maxKeys = await recordedMaxKeys(pg, instance, names);
  let tradeIds: number[] = [];
  for (const name of names) {
    const table = tables.find((t) => t.name === name)!;
    const max = maxKeys.get(name);
    const maxId = max === undefined ? Number.MIN_SAFE_INTEGER : Number(decodeSortKey(max)[0]);
    const scan = scanWindow(db, name, since, { maxId, openIds: openKeys[name] ?? [] }, tradeIds);
    if (name === 'trades') tradeIds = scan.ids;
    planned.highWater = laterOf(planned.highWater, scan.highWater);
    if (WINDOW_RULES[name]!.open !== undefined && table.columns.includes(WINDOW_RULES[name]!.open!))
      planned.openIds[name] = scan.openIds;
    const onlyNew = scan.count === (recorded.get(name) ?? 0) + scan.ids.filter((id) => id > maxId).length;
    const keys = new Set([...scan.ids, ...(onlyNew ? [] : await oneSidedIds(pg, instance, db, table))]);
    planned.windows.set(
      name,
      [...keys].sort((a, b) => a - b),
    );
  }
  return planned;
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

/**
 * The ids of the rows open now, per windowed table that has an open column: the next window reads
 * them. `known`: those a window's scan saw already (in the same snapshot).
 */
export function openKeys(
  db: SqliteDb,
  tables: readonly TableSchema[],
  known: Record<string, number[]> = {},
): Record<string, number[]> {
  const open: Record<string, number[]> = {};
  for (const table of tables) {
    const column = WINDOW_RULES[table.name]?.open;
    if (column === undefined || !table.columns.includes(column) || !windowable(db, table.name)) continue;
    open[table.name] =
      known[table.name] ??
      db
        .prepare<[], unknown[]>(`SELECT rowid FROM ${quoteIdent(table.name)} WHERE ${quoteIdent(column)} IS NOT 0`)
        .raw(true)
        .all()
        .map((r) => Number(r[0]));
  }
  return open;
}
