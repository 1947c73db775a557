import type { Client } from '@libsql/client';
import type { SqliteDb } from '../bots/bot-database-file.js';
import {
  indexWindow,
  laterOf,
  openRowIds,
  scanWindow,
  unionIds,
  windowable,
  WINDOW_RULES,
} from '../bots/change-window.js';
import { judgeReset, resetRefusal } from '../bots/reset-guard.js';
import { prepareCached } from '../bots/sqlite-cache.js';
import type { PgPool } from '../connections/postgres.js';
import { recordedMaxKeys, type RecordOp } from './push-state.js';
import {
  mergeRows,
  PAGE_ROWS,
  recordedPager,
  RowCursor,
  sourcePager,
  targetPager,
  windowRecordedPager,
  windowSourcePager,
  type Change,
  type HashedRow,
  type KeyedRow,
  type Pager,
  type RowReader,
} from './row-readers.js';
import { decodeSortKey, displayKey, sortKey } from './row-values.js';
import type { TableSchema } from './table-schema.js';
import { quoteIdent } from '../sql-identifier.js';

/** What a push compares a table with: PostgreSQL's records, the target's rows, or nothing (new). */
export type Previous = 'records' | 'target' | 'empty';

export interface TablePlan {
  table: string;
  comparedWith: Previous;
  inserts: number;
  updates: number;
  deletes: number;
  unchanged: number;
  /** A few keys of each kind, for --dry-run and the logs. */
  samples: { insert: string[]; update: string[]; delete: string[] };
}

const SAMPLE_KEYS = 5;
const RECORD_CHUNK = 5000;

export interface PlanSides {
  pg: PgPool;
  instance: string;
  source: SqliteDb;
  client: Client;
  signal: AbortSignal;
  /** Tables read by change window (compared with the records only): the ids to read. */
  windows?: PushWindows;
}

/** The cursor over what the target holds of a table, by the way it is compared. */
export function previousCursor(sides: PlanSides, table: TableSchema, previous: Previous): RowReader<HashedRow> {
  if (previous === 'target')
    return new RowCursor(targetPager(sides.client, table), `target of ${table.name}`, sides.signal);
  const window = previous === 'records' ? sides.windows?.get(table.name) : undefined;
  const pager: Pager<HashedRow> =
    window !== undefined
      ? windowRecordedPager(sides.pg, sides.instance, table.name, window)
      : previous === 'records'
        ? recordedPager(sides.pg, sides.instance, table.name)
        : async () => [];
  return new RowCursor(pager, `recorded rows of ${table.name}`, sides.signal);
}

/** The cursor over the source's table: every row, or (`previous` the records) a change window's. */
export function sourceCursor(sides: PlanSides, table: TableSchema, previous: Previous): RowCursor<KeyedRow> {
  const window = previous === 'records' ? sides.windows?.get(table.name) : undefined;
  const pager =
    window !== undefined ? windowSourcePager(sides.source, table, window) : sourcePager(sides.source, table);
  return new RowCursor(pager, `source table ${table.name}`, sides.signal);
}

/**
 * Merges one table of the source with what the target holds, counting inserts, updates and
 * deletes (and keeping them in `changes`, if given) and writing nothing. When the table's records are being rebuilt (`record`), the rows
 * found equal in the target are recorded as it goes, a chunk at a time.
 */
export async function planTable(
  sides: PlanSides,
  table: TableSchema,
  previous: Previous,
  record?: (ops: RecordOp[]) => Promise<void>,
  /** Receives the changes found (a change window's few), so writing them needs no second merge. */
  changes?: Change[],
): Promise<TablePlan> {
  const plan: TablePlan = {
    table: table.name,
    comparedWith: previous,
    inserts: 0,
    updates: 0,
    deletes: 0,
    unchanged: 0,
    samples: { insert: [], update: [], delete: [] },
  };
  const pending: RecordOp[] = [];
  for await (const change of mergeRows(sourceCursor(sides, table, previous), previousCursor(sides, table, previous))) {
    if (change.kind === 'same') {
      plan.unchanged += 1;
      if (record) {
        pending.push({ table: table.name, key: change.row.key, hash: change.row.hash });
        if (pending.length >= RECORD_CHUNK) await record(pending.splice(0));
      }
      continue;
    }
    changes?.push(change);
    const kind = change.kind;
    plan[kind === 'insert' ? 'inserts' : kind === 'update' ? 'updates' : 'deletes'] += 1;
    const samples = plan.samples[kind];
    if (samples.length < SAMPLE_KEYS)
      samples.push(displayKey(change.kind === 'delete' ? decodeSortKey(change.key) : change.row.keyValues));
  }
  if (record && pending.length > 0) await record(pending);
  return plan;
}

export function describePlan(plan: TablePlan): string {
  const total = plan.inserts + plan.updates + plan.unchanged;
  const samples = (['insert', 'update', 'delete'] as const)
    .filter((kind) => plan.samples[kind].length > 0)
    .map((kind) => `${kind} ${plan.samples[kind].join(', ')}`);
  return (
    `${plan.table}: ${total} rows, ${plan.inserts + plan.updates} to push (${plan.inserts} new, ${plan.updates} changed), ` +
    `${plan.deletes} to delete${samples.length > 0 ? `; e.g. ${samples.join('; ')}` : ''}`
  );
}

/**
 * The reset guard (bots/reset-guard.ts, shared with bot-sync): a source that would make the push
 * delete more than DELETE_GUARD_RATIO of the backup's trades or orders is most likely another
 * database (a FreqTrade reset, a dry-run file, an old copy), and its push would wipe the backup.
 * It fails permanently, writing nothing, until an operator accepts it.
 */
export function assertNoReset(instance: string, file: string, plans: readonly TablePlan[], ratio: number): void {
  const guarded = plans.filter((p) => p.table === 'trades' || p.table === 'orders');
  const verdict = judgeReset(
    {
      firstTradesChanged: [],
      tables: guarded.map((p) => ({
        table: p.table,
        held: p.deletes + p.updates + p.unchanged,
        deleting: p.deletes,
      })),
    },
    ratio,
  );
  if (!verdict.suspected) return;
  throw resetRefusal({
    bot: instance,
    file,
    job: 'turso-push',
    verdict,
    choices: [{ value: 'delete', meaning: 'the backup then mirrors the new file, without the old rows' }],
  });
}

/**
 * turso-push's change windows (bots/change-window.ts) for the tables FreqTrade changes by known
 * rules (trades, orders, wallet_history, trade_custom_data, pairlocks): per table, the sorted ids whose rows the push reads,
 * hashes and compares with the records. They are the window's rows and the ids only one side
 * has (new rows, deletions: see planPushWindows); every other row is taken as unchanged. Other
 * tables are hashed whole.
 */
type PushWindows = Map<string, number[]>;

/** What planPushWindows read: the windows, and what their scans saw of the source on the way. */
interface PlannedPushWindows {
  windows: PushWindows;
  /** The latest date of the tables in `windows` (the bot's clock), null when none. */
  highWater: Date | null;
  /** Per table in `windows` with an open column: the ids of the rows open now. */
  openIds: Record<string, number[]>;
  /** The windows were found by a scan of the rows' dates (their `highWater` is the tables'), not through indexes. */
  datesScanned: boolean;
}

/**
 * Windows of these tables (trades before orders: an order comes along with its trade), one scan
 * of each, or (`datesSince` undefined: between date scans, bots/dates-scan.ts) through indexes.
 * The ids only one side has are the new ones (above the highest recorded id, in the window
 * already) unless the source's row count says some were deleted (or inserted below that id):
 * only then are every source id and recorded key merged.
 */
export async function planPushWindows(
  pg: PgPool,
  instance: string,
  db: SqliteDb,
  tables: readonly TableSchema[],
  /** The windows' start (run-plan.ts). */
  since: Date,
  /** Where this push's scan of the rows' dates starts; undefined: no date scan (datesScanSince). */
  datesSince: Date | undefined,
  openKeys: Record<string, number[]>,
  /** The recorded rows per table. */
  recorded: ReadonlyMap<string, number>,
): Promise<PlannedPushWindows> {
  const planned: PlannedPushWindows = {
    windows: new Map(),
    highWater: null,
    openIds: {},
    datesScanned: datesSince !== undefined,
  };
  const names = Object.keys(WINDOW_RULES).filter((name) => tables.some((t) => t.name === name) && windowable(db, name));
  const maxKeys = await recordedMaxKeys(pg, instance, names);
  let tradeIds: number[] = [];
  for (const name of names) {
    const table = tables.find((t) => t.name === name)!;
    const max = maxKeys.get(name);
    const maxId = max === undefined ? Number.MIN_SAFE_INTEGER : Number(decodeSortKey(max)[0]);
    const held = { maxId, openIds: openKeys[name] ?? [] };
    const scan =
      datesSince === undefined
        ? indexWindow(db, name, held, tradeIds, since)
        : scanWindow(db, name, datesSince, held, tradeIds);
    if (name === 'trades') tradeIds = scan.ids;
    planned.highWater = laterOf(planned.highWater, scan.highWater);
    if (WINDOW_RULES[name]!.open !== undefined && table.columns.includes(WINDOW_RULES[name]!.open!))
      planned.openIds[name] = scan.openIds;
    // Either way `count` is the table's and every id above the highest recorded one is in the window.
    const onlyNew = scan.count === (recorded.get(name) ?? 0) + scan.ids.filter((id) => id > maxId).length;
    planned.windows.set(name, unionIds(scan.ids, onlyNew ? [] : await oneSidedIds(pg, instance, db, table)));
    // The trades FreqTrade wrote with the window's orders (a fee, a profit), their dates kept.
    const parent = WINDOW_RULES[name]!.parent?.table;
    if (parent !== undefined && planned.windows.has(parent) && scan.parentIds.length > 0)
      planned.windows.set(parent, unionIds(planned.windows.get(parent)!, scan.parentIds));
  }
  return planned;
}

/** The ids of rows only the source or only the records have: a merge of both in key order, no row read. */
async function oneSidedIds(pg: PgPool, instance: string, db: SqliteDb, table: TableSchema): Promise<number[]> {
  const sql = `SELECT rowid FROM ${quoteIdent(table.name)} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE_ROWS}`;
  const statement = prepareCached<[bigint], unknown[]>(db, sql, 'raw');
  const source = new RowCursor<HashedRow>(async (after) => {
    const from = after === undefined ? -(2n ** 63n) : (decodeSortKey(after.key)[0] as bigint);
    return statement.all(from).map((r) => ({ key: sortKey([r[0] as bigint]), hash: EMPTY }));
  }, `ids of ${table.name}`);
  const recorded = new RowCursor<HashedRow>(recordedPager(pg, instance, table.name), `recorded keys of ${table.name}`);
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
    const ids = known[table.name] ?? openRowIds(db, table.name);
    if (ids !== undefined) open[table.name] = ids;
  }
  return open;
}
