import { createHash } from 'node:crypto';
import type { SqliteDb } from './bot-database-file.js';
import { quoteIdent } from '../sql-identifier.js';
import { keyedByRowid, prepareCached, tableInfo, type TableColumn } from './sqlite-cache.js';

/**
 * Change windows: which rows of a bot's FreqTrade database can have changed since the last run
 * (bot-sync or turso-push), from FreqTrade's own behaviour. FreqTrade's `trades` has no
 * updated-at column: a trade changes while it is open and when it closes (close_date); an order
 * changes while it is open and when it is updated (order_update_date, order_filled_date);
 * wallet_history grows by time; custom data is stamped when set, a pair lock changes while
 * active. So a run of a changed bot reads, besides every id (to find deletions): rows above the
 * highest id the copy holds, rows open now or open in the copy, and rows whose dates fall after
 * the window's start (the last run, less SYNC_WINDOW_MARGIN).
 *
 * FreqTrade's writes to an existing row that set no date of the window (read in FreqTrade
 * 2024.10's freqtradebot.py, persistence/trade_model.py, migrations.py, pairlock_middleware.py,
 * rpc/rpc.py), and what brings each row into the window:
 * - migrations.py fix_old_dry_orders (every start): ft_is_open 1 -> 0 on dry-run orders of
 *   closed trades and on open dry-run stoploss orders. The order is open in the copy.
 * - freqtradebot.py update_trades_without_assigned_fees (every loop, live), and
 *   handle_onexchange_order (rpc.py _rpc_reload_trade_from_exchange, any trade): update_trade_state
 *   on a closed trade's order: the fee (trade_model.py update_fee), close_rate and profit
 *   (close, recalc_trade_from_orders) of the trade change, its close_date is kept. The order's
 *   update (Order.update_from_ccxt_object) stamps order_update_date, or the order is new: the
 *   trades of the window's orders come along (`parentFollows`). So does the trade of an order
 *   open in the copy that startup_update_open_orders cancels (handle_cancel_order) at start.
 * - freqtradebot.py startup_backpopulate_precision (every start): precision_mode, precision
 *   and contract_size of every trade, closed too, whose contract_size is NULL. Such a row is
 *   read by every window while its contract_size is NULL (`unfilled`), the copy's too.
 * - rpc.py _rpc_delete_lock (by id): active = 0 and lock_end_time = now, also on a lock no longer
 *   active: lock_end_time is a window date (`laterDates`).
 * - Every other write is to an open trade (funding fees, stop loss and is_stop_loss_trailing,
 *   min/max rates, liquidation price, stoploss_reinitialization, handle_insufficient_funds,
 *   startup_update_open_orders, order cancels and replacements) or to an open order or lock,
 *   dated (Order.update_from_ccxt_object, set_custom_data, a close), a new row, or a deletion.
 * bot-sync and turso-push find a big bot's windows through indexes (indexWindow): all of the above
 * but the undated writes to closed rows that only an order's date shows, which their date scan
 * every SYNC_DATE_SCAN_INTERVAL takes (dates-scan.ts). What nothing in the data can tell (an old closed trade edited by
 * hand or by another tool) is found by the next full compare: at least every FULL_COMPARE_INTERVAL, and whenever the window
 * cannot be trusted (bots/run-plan.ts decides which a run reads).
 */

interface TableRule {
  /** Column that is non-zero while FreqTrade may still change the row. */
  open?: string;
  /**
   * A date until which an open row stays open: after it, FreqTrade changes the row only by moving
   * this date (in the window then). A pair lock stays `active = 1` after its lock_end_time (the
   * real bots' locks all do), yet FreqTrade unlocks only locks in force, and its API's delete sets
   * lock_end_time to now: an ended lock is not read again by every window.
   */
  openUntil?: string;
  /** Columns FreqTrade fills in any row, closed too, while they are NULL (at its next start), setting no date. */
  unfilled?: readonly string[];
  /** Columns FreqTrade sets to "now" when it writes the row (naive UTC text). */
  dates: readonly string[];
  /** Columns FreqTrade sets to "now" in some writes, ahead of now in others: windowed by, not the bot's clock. */
  laterDates?: readonly string[];
  /** Rows of the parent's window come along (the orders of a trade that changed). */
  parent?: { column: string; table: string };
  /** FreqTrade writes the parent row when it writes this one: the parents of the window's rows come along. */
  parentFollows?: boolean;
  /**
   * Window dates FreqTrade indexes: indexWindow finds the rows dated after the window's start
   * through them. When `openUntil` is one, it stands for the open rows too (a lock in force ends
   * after the start), so the `open` column, which FreqTrade leaves set on ended locks, is not read.
   */
  indexed?: readonly string[];
}

export const WINDOW_RULES: Readonly<Record<string, TableRule>> = {
  trades: { open: 'is_open', unfilled: ['contract_size'], dates: ['open_date', 'close_date'] },
  orders: {
    open: 'ft_is_open',
    dates: ['order_date', 'order_update_date', 'order_filled_date'],
    parent: { column: 'ft_trade_id', table: 'trades' },
    parentFollows: true,
  },
  wallet_history: { dates: ['timestamp'], indexed: ['timestamp'] },
  // FreqTrade's set_custom_data stamps updated_at; a lock changes only while active (until unlocked).
  trade_custom_data: { dates: ['created_at', 'updated_at'], parent: { column: 'ft_trade_id', table: 'trades' } },
  pairlocks: {
    open: 'active',
    openUntil: 'lock_end_time',
    dates: ['lock_time'],
    laterDates: ['lock_end_time'],
    indexed: ['lock_end_time'],
  },
};

/** What the last run left for the next one's window. */
export interface WindowMemory {
  /** This host's clock when the last run read the file. */
  at: Date | null;
  /** The latest date the file held then (the bot's clock). */
  highWater: Date | null;
  /** The last run that compared every row. */
  fullAt: Date | null;
  /** sourceSchema() at the last run. */
  schema: string | null;
}

/**
 * The tables' CREATE statements and root pages, hashed: a FreqTrade upgrade changes the first,
 * a table rebuilt by its migrations (renamed away, created again, rows copied back) the second.
 */
export function sourceSchema(db: SqliteDb): string {
  const rows = prepareCached<[], { name: string; rootpage: number | bigint; sql: string | null }>(
    db,
    "SELECT name, rootpage, sql FROM sqlite_master WHERE type = 'table' ORDER BY name",
    'objects',
  ).all();
  const text = rows.map((r) => `${r.name}\u0000${r.rootpage}\u0000${r.sql ?? ''}`).join('\u0001');
  return createHash('md5').update(text).digest('hex');
}

/** The names of a table's columns, per read of its columns (sqlite-cache.ts: once per connection and schema). */
const columnNames = new WeakMap<readonly TableColumn[], Set<string>>();

function columnsOf(db: SqliteDb, table: string): Set<string> {
  const info = tableInfo(db, table);
  let names = columnNames.get(info);
  if (names === undefined) columnNames.set(info, (names = new Set(info.map((c) => c.name))));
  return names;
}

/**
 * Whether the table can be read by window: it has a rule, and its id is an INTEGER PRIMARY KEY
 * (the rowid itself, which the window reads by and new rows grow).
 */
export function windowable(db: SqliteDb, table: string): boolean {
  return WINDOW_RULES[table] !== undefined && keyedByRowid(db, table, 'id');
}

/** julianday() to a Date; null stays null. */
function fromJulian(day: number | null | undefined): Date | null {
  return day === null || day === undefined ? null : new Date(Math.round((day - 2440587.5) * 86_400_000));
}

/** FreqTrade's naive UTC text of a Date. */
function naiveUtc(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** The latest date these tables hold (the bot's clock), null when none; FreqTrade's text sorts as its time. */
export function highWater(db: SqliteDb, tables: readonly string[]): Date | null {
  let latest: Date | null = null;
  for (const table of tables) {
    const rule = WINDOW_RULES[table];
    if (rule === undefined) continue;
    const dates = rule.dates.filter((c) => columnsOf(db, table).has(c));
    if (dates.length === 0) continue;
    const row = prepareCached<[], unknown[]>(
      db,
      `SELECT ${dates.map(latestDate).join(', ')} FROM ${quoteIdent(table)}`,
      'raw',
    ).get();
    latest = laterOf(latest, latestOf(row ?? []));
  }
  return latest;
}

/** The later of two latest dates (null: none). */
export function laterOf(a: Date | null, b: Date | null): Date | null {
  return a === null || (b !== null && b > a) ? b : a;
}

function latestDate(column: string): string {
  return `julianday(max(${quoteIdent(column)}))`;
}

function latestOf(days: readonly unknown[]): Date | null {
  let latest: number | null = null;
  for (const value of days) if (typeof value === 'number' && (latest === null || value > latest)) latest = value;
  return fromJulian(latest);
}

/** What the copy holds of a table: its highest id, and the ids that must be read again whatever their dates. */
export interface HeldRows {
  maxId: number;
  /** Rows open in the copy (they may have closed since, with a date of the exchange's). */
  openIds: readonly number[];
  /** More rows to read (the reset guard's first trades). */
  extraIds?: readonly number[];
}

/** A table's window as a WHERE clause over the table's rowid (= id) and its parameters. */
export interface TableWindow {
  table: string;
  where: string;
  params: Array<string | bigint>;
}

/**
 * The rule's condition for the rows FreqTrade may still change whatever their dates (open, or a
 * column it fills later still NULL) on this table's columns, when it has one.
 */
function openCondition(rule: TableRule, have: Set<string>): string | undefined {
  const terms = [
    ...(rule.open !== undefined && have.has(rule.open) ? [`${quoteIdent(rule.open)} IS NOT 0`] : []),
    ...(rule.unfilled ?? []).filter((c) => have.has(c)).map((c) => `${quoteIdent(c)} IS NULL`),
  ];
  return terms.length === 0 ? undefined : terms.join(' OR ');
}

/** The window of one table; `parentIds`: the ids of the parent table's window (orders of changed trades). */
function tableWindow(
  db: SqliteDb,
  table: string,
  since: Date,
  held: HeldRows,
  parentIds: readonly number[] = [],
): TableWindow {
  const rule = WINDOW_RULES[table]!;
  const have = columnsOf(db, table);
  const terms = ['rowid > ?', 'rowid IN (SELECT value FROM json_each(?))'];
  const params: Array<string | bigint> = [
    BigInt(held.maxId),
    JSON.stringify([...held.openIds, ...(held.extraIds ?? [])]),
  ];
  // FreqTrade's text (YYYY-MM-DD HH:MM:SS.ffffff) sorts as its time, so a text comparison (no
  // date parsing per row) tells; a form with a T or a zone sorts later on its day (read, rather
  // than missed), and a value that is no text at all is read too.
  const fromStart = (column: string): string =>
    `(${quoteIdent(column)} >= ? OR typeof(${quoteIdent(column)}) NOT IN ('text', 'null'))`;
  const open = openCondition(rule, have);
  if (open !== undefined && rule.openUntil !== undefined && have.has(rule.openUntil)) {
    terms.push(`((${open}) AND ${fromStart(rule.openUntil)})`);
    params.push(naiveUtc(since));
  } else if (open !== undefined) terms.push(open);
  for (const column of [...rule.dates, ...(rule.laterDates ?? [])].filter((c) => have.has(c))) {
    terms.push(fromStart(column));
    params.push(naiveUtc(since));
  }
  if (rule.parent !== undefined && have.has(rule.parent.column) && parentIds.length > 0) {
    terms.push(`${quoteIdent(rule.parent.column)} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(parentIds));
  }
  return { table, where: terms.join(' OR '), params };
}

/** A table's window as read by scanWindow. */
export interface WindowScan {
  window: TableWindow;
  /** The rowids the window selects, in order. */
  ids: number[];
  /** The latest date of the rule's columns (the bot's clock), null when none. */
  highWater: Date | null;
  /** The table's rows. */
  count: number;
  /** The rowids of the rows open now (openCondition), in order; empty without one. */
  openIds: number[];
  /** The parent ids of the window's rows, in order, when FreqTrade writes the parent with them (parentFollows); else empty. */
  parentIds: number[];
}

/**
 * tableWindow, its ids, the table's latest date, row count and open rows in one scan of the
 * table (the dates have no index: each of these alone would be a scan of its own).
 */
export function scanWindow(
  db: SqliteDb,
  table: string,
  since: Date,
  held: HeldRows,
  parentIds: readonly number[] = [],
): WindowScan {
  const rule = WINDOW_RULES[table]!;
  const have = columnsOf(db, table);
  const window = tableWindow(db, table, since, held, parentIds);
  const open = openCondition(rule, have) ?? '0';
  const follows = rule.parentFollows === true && rule.parent !== undefined && have.has(rule.parent.column);
  // With the parent: pairs [rowid, parent id], so the window's condition is evaluated once a row.
  const selected = follows ? `json_array(rowid, ${quoteIdent(rule.parent!.column)})` : 'rowid';
  const dates = rule.dates.filter((c) => have.has(c)).map(latestDate);
  const row = prepareCached<unknown[], unknown[]>(
    db,
    `SELECT count(*), json_group_array(${selected}) FILTER (WHERE ${window.where}),
       json_group_array(rowid) FILTER (WHERE ${open})${dates.map((d) => `, ${d}`).join('')}
     FROM ${quoteIdent(table)}`,
    'raw',
  ).get(...window.params)!;
  // A value that is no integer (a parent id of text) has no row to read.
  const sorted = (ids: unknown[]) => ids.filter((id): id is number => Number.isSafeInteger(id)).sort((a, b) => a - b);
  const rows = JSON.parse(String(row[1])) as unknown[];
  const pairs = follows ? (rows as Array<[unknown, unknown]>) : [];
  return {
    window,
    ids: sorted(follows ? pairs.map((p) => p[0]) : rows),
    highWater: latestOf(row.slice(3)),
    count: Number(row[0]),
    openIds: sorted(JSON.parse(String(row[2])) as unknown[]),
    parentIds: [...new Set(sorted(pairs.map((p) => p[1])))],
  };
}

/**
 * scanWindow's window found through indexes alone, no row's dates read, so its cost follows the
 * window, not the table: rows above the highest id the copy holds (the rowid), rows held open in
 * the copy and the extra ids (by rowid), rows open now (FreqTrade indexes `is_open` and
 * `ft_is_open`: two range searches, > 0 and < 0, the values `IS NOT 0` takes but NULL, which
 * FreqTrade never writes and the copy lists as open), rows dated from `since` on in a date
 * FreqTrade indexes (a lock's end, a balance's time: the rule's `indexed`), the children of the
 * parent's window (`ft_trade_id`, indexed) and, with parentFollows, the parents of the window's
 * rows. It leaves out what only an unindexed date tells: an old closed row FreqTrade stamps without
 * opening it (a fee fetched after the close, an order reloaded from the exchange, custom data set
 * on a closed trade): bot-sync and turso-push scan the dates for those (scanWindow) every
 * SYNC_DATE_SCAN_INTERVAL (dates-scan.ts). `openIds`: the rows open now (with an indexed
 * `openUntil`, those in force after the start) and the window's unfilled rows (all there are:
 * see below). `highWater` is the latest date of the window's rows alone; `count` is counted from
 * the smallest index.
 */
export function indexWindow(
  db: SqliteDb,
  table: string,
  held: HeldRows,
  parentIds: readonly number[] = [],
  /** The window's start, for the rule's indexed dates. */
  since?: Date,
): WindowScan {
  const rule = WINDOW_RULES[table]!;
  const have = columnsOf(db, table);
  const name = quoteIdent(table);
  const rowids = (sql: string, ...params: unknown[]): number[] =>
    prepareCached<unknown[], unknown[]>(db, sql, 'raw')
      .all(...params)
      .map((r) => Number(r[0]));
  const listed = JSON.stringify([...held.openIds, ...(held.extraIds ?? [])]);
  // One statement each: in a compound SELECT SQLite may scan the table instead of its indexes.
  const found = [
    ...rowids(`SELECT rowid FROM ${name} WHERE rowid > ?`, BigInt(held.maxId)),
    ...rowids(`SELECT rowid FROM ${name} WHERE rowid IN (SELECT value FROM json_each(?))`, listed),
  ];
  const openIds: number[] = [];
  const indexed = since === undefined ? [] : (rule.indexed ?? []).filter((c) => have.has(c));
  for (const column of indexed) {
    // Text from the start on, and what no text is (a number sorts before any text, a blob after).
    const dated = [
      ...rowids(`SELECT rowid FROM ${name} WHERE ${quoteIdent(column)} >= ?`, naiveUtc(since!)),
      ...rowids(`SELECT rowid FROM ${name} WHERE ${quoteIdent(column)} < ''`),
    ];
    found.push(...dated);
    if (column === rule.openUntil) openIds.push(...dated);
  }
  const openByDate = rule.openUntil !== undefined && indexed.includes(rule.openUntil);
  if (rule.open !== undefined && have.has(rule.open) && !openByDate) {
    const open = quoteIdent(rule.open);
    openIds.push(
      ...rowids(`SELECT rowid FROM ${name} WHERE ${open} > 0`),
      ...rowids(`SELECT rowid FROM ${name} WHERE ${open} < 0`),
    );
  }
  found.push(...openIds);
  if (rule.parent !== undefined && have.has(rule.parent.column) && parentIds.length > 0)
    found.push(
      ...rowids(
        `SELECT rowid FROM ${name} WHERE ${quoteIdent(rule.parent.column)} IN (SELECT value FROM json_each(?))`,
        JSON.stringify(parentIds),
      ),
    );
  const ids = [...new Set(found)].sort((a, b) => a - b);
  const idList = JSON.stringify(ids);
  // The window's rows FreqTrade fills later (unfilled): no index has them, and none is needed. It
  // never empties such a column, so a row unfilled now is new or was unfilled at the last run,
  // which listed it as open: this run's window reads it, and so will the next.
  const unfilled = (rule.unfilled ?? []).filter((c) => have.has(c));
  if (unfilled.length > 0)
    openIds.push(
      ...rowids(
        `SELECT rowid FROM ${name} WHERE rowid IN (SELECT value FROM json_each(?)) AND (${unfilled.map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ')})`,
        idList,
      ),
    );
  const follows = rule.parentFollows === true && rule.parent !== undefined && have.has(rule.parent.column);
  const parents = follows
    ? prepareCached<[string], unknown[]>(
        db,
        `SELECT DISTINCT ${quoteIdent(rule.parent!.column)} FROM ${name} WHERE rowid IN (SELECT value FROM json_each(?))`,
        'raw',
      )
        .all(idList)
        .map((r) => (typeof r[0] === 'bigint' ? Number(r[0]) : r[0]))
        .filter((id): id is number => Number.isSafeInteger(id))
        .sort((a, b) => a - b)
    : [];
  const dates = rule.dates.filter((c) => have.has(c)).map(latestDate);
  const latest =
    dates.length === 0
      ? []
      : prepareCached<[string], unknown[]>(
          db,
          `SELECT ${dates.join(', ')} FROM ${name} WHERE rowid IN (SELECT value FROM json_each(?))`,
          'raw',
        ).get(idList)!;
  const count = prepareCached<[], unknown[]>(db, `SELECT count(*) FROM ${name}`, 'raw').get()!;
  return {
    window: { table, where: 'rowid IN (SELECT value FROM json_each(?))', params: [idList] },
    ids,
    highWater: latestOf(latest),
    count: Number(count[0]),
    openIds: [...new Set(openIds)].sort((a, b) => a - b),
    parentIds: parents,
  };
}

/** The rowids of the table's rows open now (openCondition), in order; undefined when its rule has no such condition. */
export function openRowIds(db: SqliteDb, table: string): number[] | undefined {
  const rule = WINDOW_RULES[table];
  const open = rule === undefined ? undefined : openCondition(rule, columnsOf(db, table));
  if (open === undefined) return undefined;
  return prepareCached<[], unknown[]>(db, `SELECT rowid FROM ${quoteIdent(table)} WHERE ${open} ORDER BY rowid`, 'raw')
    .all()
    .map((r) => Number(r[0]));
}

/** Sorted ids and more ids, sorted, each once (a window's rows and the parents its children bring along). */
export function unionIds(ids: readonly number[], more: readonly number[]): number[] {
  return more.length === 0 ? [...ids] : [...new Set([...ids, ...more])].sort((a, b) => a - b);
}
