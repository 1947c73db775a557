import type { PoolClient } from 'pg';
import type { TableWindow } from '../bots/change-window.js';
import type { BotSyncContext } from './sync-context.js';
import type { BotDatabase } from './bot-database.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { copyLines, describePgFailure, tableAt } from './pg-copy.js';
import { quoteIdent } from '../sql-identifier.js';
import { prepared } from '../connections/prepared-statements.js';
import { stagedJson, stagedTable, type StagedRows } from './staged-rows.js';
import {
  createRowEncoder,
  readLines,
  recordRowRejects,
  type EncodedRow,
  type RowEncoder,
  type RowReject,
} from './source-lines.js';
import type { StagedIdTables as StagedIds } from './reset-evidence.js';
import type { TableDeletions } from '../bots/reset-guard.js';
import { emptyCounts, type ReadCounts } from './sync-result.js';

/**
 * The rows of a change window (bots/change-window.ts): per table, the ids it selects, read by id.
 * Deletions are found from the ids alone: every id of the source (index only) against every id
 * PostgreSQL holds for the bot.
 */
export interface SyncWindows {
  trades: TableWindow;
  tradeIds: readonly number[];
  orders: TableWindow | undefined;
  orderIds: readonly number[];
  /** What PostgreSQL held per table after the last sync (its rows, its highest id). */
  held: Record<'trades' | 'orders', { count: number; maxId: number }>;
  /** The source's rows per table, in the window's snapshot. */
  counts: Record<'trades' | 'orders', number>;
  /** The latest date of trades and orders (the bot's clock), null when none; of the window's rows alone without a date scan. */
  highWater: Date | null;
  /** Whether the windows were found by scanning the rows' dates too (else through indexes alone). */
  datesScanned: boolean;
  /** The bot's first trades PostgreSQL holds (the reset guard compares them with the file's). */
  firstTradeIds: readonly number[];
  /** Hashes of the bot's other tables' window rows, asked in the statement that asks the trades' and orders' (heldHashes). */
  moreHashes: readonly HashRequest[];
  /** The rejects PostgreSQL holds of the bot's trades and orders rows (recordRowRejects). */
  heldRejects: number;
}

/**
 * What the reset guard is given: the staged tables to count deletions against, or (windows) the
 * counts, and the window's staged trades (which always hold the bot's first trades).
 */
export type DeletionsSeen = StagedIds | { deletions: readonly TableDeletions[]; trades: StagedRows };

/**
 * A bot PostgreSQL already holds: the source's rows (every row, or those of `windows`) are staged
 * by COPY into temporary tables, then merged in one statement per table. Rows whose hash is
 * unchanged are not written, rows the source lost are deleted, so after k changes about k rows
 * are written.
 */
export async function mergeSync(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  beforeWrite?: BeforeWrite,
  windows?: SyncWindows,
): Promise<ReadCounts> {
  if (windows !== undefined) return windowMerge(ctx, client, source, botId, windows, beforeWrite);
  const unusable = await stageSource(ctx, client, source);
  // The staged source is what the guard against a replaced database looks at, before any write.
  const result = countsAfter(await beforeWrite?.({ trades: 'stage_trades', orders: 'stage_orders' }));
  const named = <T>(mapping: TableMapping, write: Promise<T>): Promise<T> =>
    write.catch((error: unknown) => {
      throw describePgFailure(tableAt(source, mapping), error);
    });
  const trades = await named(tradesMapping, mergeStaged(client, tradesMapping, stagedTable('stage_trades'), botId));
  Object.assign(result.trades, { inserted: trades.inserted, updated: trades.updated });
  let orphans = 0;
  if (source.orders) {
    const parent = stagedParent('stage_trades');
    const merged = await named(
      ordersMapping,
      mergeStaged(client, ordersMapping, stagedTable('stage_orders'), botId, parent, `${source.bot}:${source.file}`),
    );
    Object.assign(result.orders, { inserted: merged.inserted, updated: merged.updated });
    orphans = merged.orphans;
    // Orders first: deleting a trade cascades to its orders, which would then go uncounted.
    result.orders.deleted += await deleteUnstaged(client, ordersMapping, 'stage_orders', botId, parent);
  } else {
    // No orders table in this FreqTrade version: PostgreSQL keeps none for the bot either.
    result.orders.deleted += (await client.query('DELETE FROM orders WHERE bot_id = $1', [botId])).rowCount ?? 0;
  }
  result.trades.deleted += await deleteUnstaged(client, tradesMapping, 'stage_trades', botId);
  const staged = await stagedCounts(client, Boolean(source.orders));
  result.trades.unchanged = staged.trades - result.trades.inserted - result.trades.updated;
  result.orders.unchanged = staged.orders - result.orders.inserted - result.orders.updated;
  result.rejected = orphans + unusable;
  await ctx.log(
    `bot ${source.bot}: ${staged.trades} trades, ` +
      (source.orders ? `${staged.orders} orders read` : 'no orders table (older FreqTrade)'),
  );
  return result;
}

/**
 * Called once the source is staged, before any write (the guard against a replaced database);
 * returns the rows it deleted itself (an accepted reset that deletes), counted with the merge's.
 */
export type BeforeWrite = (
  deletions: DeletionsSeen,
) => Promise<
  | { trades: number; orders: number; /** The bot's rows left PostgreSQL (an accepted reset). */ emptied: boolean }
  | undefined
>;

function countsAfter(deleted: { trades: number; orders: number } | undefined): ReadCounts {
  const result = { trades: emptyCounts(), orders: emptyCounts(), rejected: 0 };
  result.trades.deleted = deleted?.trades ?? 0;
  result.orders.deleted = deleted?.orders ?? 0;
  return result;
}

/**
 * The merge by change windows: the window's rows are staged and merged as above; deletions are
 * the ids PostgreSQL holds that the source lacks (or that the window read and rejected), deleted
 * by id before the merge; an order is taken when PostgreSQL then holds its trade.
 */
async function windowMerge(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  windows: SyncWindows,
  beforeWrite?: BeforeWrite,
): Promise<ReadCounts> {
  const rejects: RowReject[] = [];
  const staged = await stageTables(ctx, client, source, windows, rejects, true);
  const rejected = (table: string) => new Set(rejects.filter((r) => r.table === table).map((r) => Number(r.rowid)));
  const deletions = async (table: 'trades' | 'orders', sql: string) => {
    // The source's ids are PostgreSQL's less the deleted plus the window's new ones: when the
    // counts say nothing was deleted (and the window rejected nothing), no id list is read.
    const held = windows.held[table];
    const ids = table === 'trades' ? windows.tradeIds : windows.orderIds;
    const lost = rejected(table);
    if (lost.size === 0 && windows.counts[table] === held.count + ids.filter((id) => id > held.maxId).length)
      return { held: held.count, gone: [] };
    const all = await heldIds(client, sql, botId);
    return {
      held: all.length,
      gone: gone(
        all,
        source.guard(() => source.rowids(table)),
        lost,
      ),
    };
  };
  const trades = await deletions('trades', 'SELECT trade_id AS id FROM trades_aggregated WHERE bot_id = $1');
  const ordersSql = 'SELECT order_pk AS id FROM orders WHERE bot_id = $1';
  const orders = source.orders
    ? await deletions('orders', ordersSql)
    : { held: windows.held.orders.count, gone: await heldIds(client, ordersSql, botId) };
  const goneTrades = trades.gone;
  const goneOrders = orders.gone;
  // Rows PostgreSQL holds as they are need no write, nor the guard's look (their first trades are the same).
  const held = await heldHashes(client, botId, staged, windows.moreHashes);
  const changed = changedRows(staged, held, new Set(goneTrades));
  const deletedFirst = await beforeWrite?.({
    deletions: [
      { table: 'trades', held: trades.held, deleting: goneTrades.length },
      { table: 'orders', held: orders.held, deleting: goneOrders.length },
    ],
    trades: firstTradesOf(staged.trades, held.trades, windows.firstTradeIds),
  });
  if (deletedFirst?.emptied === true) {
    // An accepted reset took the bot's rows out of PostgreSQL: every row of the file is written,
    // not the window's alone, read in short reads as a full compare is (the window's snapshot ends).
    source.guard(() => source.db.inTransaction && source.db.exec('COMMIT'));
    await client.query('DROP TABLE IF EXISTS stage_orders, stage_trades');
    const all = await mergeSync(ctx, client, source, botId);
    all.trades.deleted += deletedFirst.trades;
    all.orders.deleted += deletedFirst.orders;
    return all;
  }
  const written = changed;
  const result = countsAfter(deletedFirst);
  // Orders first, with those of the trades deleted, so that every deletion is counted.
  if (goneOrders.length + goneTrades.length > 0)
    result.orders.deleted +=
      (
        await client.query('DELETE FROM orders WHERE bot_id = $1 AND (order_pk = ANY($2) OR trade_id = ANY($3))', [
          botId,
          goneOrders,
          goneTrades,
        ])
      ).rowCount ?? 0;
  if (goneTrades.length > 0)
    result.trades.deleted +=
      (
        await client.query('DELETE FROM trades_aggregated WHERE bot_id = $1 AND trade_id = ANY($2)', [
          botId,
          goneTrades,
        ])
      ).rowCount ?? 0;
  const named = <T>(mapping: TableMapping, write: Promise<T>): Promise<T> =>
    write.catch((error: unknown) => {
      throw describePgFailure(tableAt(source, mapping), error);
    });
  const merged = written.trades
    ? await named(tradesMapping, mergeStaged(client, tradesMapping, written.trades, botId))
    : { inserted: 0, updated: 0 };
  Object.assign(result.trades, { inserted: merged.inserted, updated: merged.updated });
  let orphans = 0;
  if (staged.orders && written.orders) {
    const mergedOrders = await named(
      ordersMapping,
      mergeStaged(client, ordersMapping, written.orders, botId, heldParent('$1'), `${source.bot}:${source.file}`),
    );
    Object.assign(result.orders, { inserted: mergedOrders.inserted, updated: mergedOrders.updated });
    orphans = mergedOrders.orphans;
  }
  // Rows outside the window are unchanged by definition: what PostgreSQL held, less the deletions.
  result.trades.unchanged = trades.held - result.trades.deleted - result.trades.updated;
  result.orders.unchanged = orders.held - result.orders.deleted - result.orders.updated;
  result.rejected = orphans + staged.unusable;
  return result;
}

/** Each line's key (its first field), hash (its last) and, for orders, trade (its second). */
function lineFields(line: string): { key: number; hash: string; parent: number } {
  const first = line.indexOf('\t');
  const second = line.indexOf('\t', first + 1);
  return {
    key: Number(line.slice(0, first)),
    hash: line.slice(line.lastIndexOf('\t') + 1).trimEnd(),
    parent: Number(line.slice(first + 1, second)),
  };
}

/** A request for the hashes PostgreSQL holds of some of a table's rows (by key), answered into `into`. */
export interface HashRequest {
  table: string;
  key: string;
  ids: readonly number[];
  into: Map<number, string>;
}

/**
 * The hashes PostgreSQL holds of the rows given inline, per table, found in one statement for
 * both, and for the other tables' `more` requests.
 */
async function heldHashes(
  client: PoolClient,
  botId: string,
  staged: StagedWindow,
  more: readonly HashRequest[],
): Promise<{ trades: Map<number, string>; orders: Map<number, string> }> {
  const keys = (rows: StagedRows | InlineRows | undefined) =>
    rows !== undefined && 'lines' in rows ? rows.lines.map((line) => lineFields(line).key) : [];
  const held = { trades: new Map<number, string>(), orders: new Map<number, string>() };
  const requests: HashRequest[] = [
    { table: 'trades_aggregated', key: 'trade_id', ids: keys(staged.trades), into: held.trades },
    { table: 'orders', key: 'order_pk', ids: keys(staged.orders), into: held.orders },
    ...more,
  ].filter((r) => r.ids.length > 0);
  if (requests.length === 0) return held;
  const { rows } = await client.query<{ request: number; key: number; row_hash: string }>(
    prepared(
      requests
        .map(
          (r, i) =>
            `SELECT ${i} AS request, ${quoteIdent(r.key)} AS key, row_hash FROM ${quoteIdent(r.table)} WHERE bot_id = $1 AND ${quoteIdent(r.key)} = ANY($${i + 2}::int[])`,
        )
        .join('\n     UNION ALL\n     '),
      [botId, ...requests.map((r) => r.ids)],
    ),
  );
  for (const row of rows) requests[row.request]!.into.set(row.key, row.row_hash);
  return held;
}

/**
 * The window's rows given inline less those PostgreSQL holds with the same hash (which the merge
 * would not write either); undefined for a table left with none, so its merge is not sent at all.
 * Orders of deleted trades are kept: the merge records them as orphans, as before. Rows staged
 * in a table are given as they are.
 */
function changedRows(
  staged: StagedWindow,
  held: { trades: Map<number, string>; orders: Map<number, string> },
  goneTrades: ReadonlySet<number>,
): { trades: StagedRows | undefined; orders: StagedRows | undefined } {
  const keep = (
    rows: StagedRows | InlineRows | undefined,
    hashes: Map<number, string>,
    parents?: ReadonlySet<number>,
  ): StagedRows | undefined => {
    if (rows === undefined || !('lines' in rows)) return rows;
    const lines = rows.lines.filter((line) => {
      const f = lineFields(line);
      return hashes.get(f.key) !== f.hash || parents?.has(f.parent) === true;
    });
    return lines.length === 0 ? undefined : stagedJson(rows.encoder, lines.join(''));
  };
  return { trades: keep(staged.trades, held.trades), orders: keep(staged.orders, held.orders, goneTrades) };
}

/**
 * What the reset guard compares with the bot's first trades: of the rows given inline, the changed
 * ones among those first trades (often none: then the guard sends nothing); staged rows as they are.
 */
function firstTradesOf(
  staged: StagedRows | InlineRows,
  held: ReadonlyMap<number, string>,
  firstTradeIds: readonly number[],
): StagedRows {
  if (!('lines' in staged)) return staged;
  const first = new Set(firstTradeIds);
  const rows = staged.lines.filter((line) => {
    const f = lineFields(line);
    return first.has(f.key) && held.get(f.key) !== f.hash;
  });
  return stagedJson(staged.encoder, rows.join(''));
}

/** Ids PostgreSQL holds for the bot, sorted. */
async function heldIds(client: PoolClient, sql: string, botId: string): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>(`${sql} ORDER BY 1`, [botId]);
  return rows.map((r) => r.id);
}

/** Held ids the source lacks (both sorted), or whose row the window rejected. */
function gone(held: readonly number[], present: readonly number[], rejected: ReadonlySet<number>): number[] {
  const out: number[] = [];
  let j = 0;
  for (const id of held) {
    while (j < present.length && present[j]! < id) j++;
    if (j >= present.length || present[j] !== id || rejected.has(id)) out.push(id);
  }
  return out;
}

/**
 * Copies the source's orders and trades (all, or those of `windows`) into temporary tables
 * stage_orders and stage_trades (dropped at commit). Rows that cannot be taken (an unusable key,
 * a required value missing) are recorded in rejects instead (with windows: replacing those of the
 * rows read only); returns how many.
 */
export async function stageSource(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  windows?: SyncWindows,
  rejects: RowReject[] = [],
): Promise<number> {
  return (await stageTables(ctx, client, source, windows, rejects, false)).unusable;
}

/** A window's rows of at most SYNC_BATCH_SIZE: their COPY lines, given to the statements as a parameter (stagedJson). */
interface InlineRows {
  encoder: RowEncoder;
  lines: string[];
}

/** What a sync by change windows merges from: the window's rows of each table, staged or inline. */
interface StagedWindow {
  trades: StagedRows | InlineRows;
  orders: StagedRows | InlineRows | undefined;
  /** Rows that cannot be taken, recorded in rejects. */
  unusable: number;
}

/**
 * Stages the source's orders and trades (before trades: FreqTrade writes a trade before its
 * orders, so every order read here finds its trade when the trades are read next, even while the
 * bot keeps writing). `inline`: a window's table of at most SYNC_BATCH_SIZE rows is not copied
 * into a temporary table but given to the statements as a parameter (staged-rows.ts).
 */
async function stageTables(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  windows: SyncWindows | undefined,
  rejects: RowReject[],
  inline: boolean,
): Promise<StagedWindow> {
  const byIds = (ids: readonly number[]) => ({
    where: 'rowid IN (SELECT value FROM json_each(?))',
    params: [JSON.stringify(ids)],
  });
  const tables = [
    ...(source.orders
      ? [
          {
            mapping: ordersMapping,
            stage: 'stage_orders',
            ids: windows?.orderIds,
            window: windows && byIds(windows.orderIds),
          },
        ]
      : []),
    {
      mapping: tradesMapping,
      stage: 'stage_trades',
      ids: windows?.tradeIds,
      window: windows && byIds(windows.tradeIds),
    },
  ];
  const progress = {
    done: 0,
    total: windows
      ? windows.tradeIds.length + windows.orderIds.length
      : tables.reduce((n, t) => n + source.count(t.mapping.source), 0),
  };
  // A window that fits one batch is read in a moment: its progress is told once, at the end
  // (each update is a round trip to Redis in a worker), a longer read's as it goes.
  const short = inline && windows !== undefined && progress.total <= ctx.config.SYNC_BATCH_SIZE;
  const reading: BotSyncContext = short ? { ...ctx, progress: async () => undefined } : ctx;
  if (!short) await ctx.progress(progress);
  const staged = new Map<string, StagedRows | InlineRows>();
  for (const { mapping, stage, ids, window } of tables) {
    const rows = inline && ids !== undefined && ids.length <= ctx.config.SYNC_BATCH_SIZE;
    staged.set(
      mapping.source,
      (await stageRows(reading, client, source, mapping, { stage, window, inline: rows, progress, rejects })).rows,
    );
  }
  if (short) await ctx.progress({ ...progress });
  // A window's rejects are replaced only when there are new ones or old ones to drop.
  const unusable =
    windows === undefined
      ? await recordRowRejects(client, source.bot, source.file, rejects)
      : rejects.length === 0 && windows.heldRejects === 0
        ? 0
        : await recordRowRejects(client, source.bot, source.file, rejects, [
            { table: tradesMapping.source, rowids: windows.tradeIds },
            { table: ordersMapping.source, rowids: windows.orderIds },
          ]);
  return { trades: staged.get(tradesMapping.source)!, orders: staged.get(ordersMapping.source), unusable };
}

/**
 * Stages one FreqTrade table's rows (all, or those of `window`): copied into the temporary table
 * `stage`, or (`inline`: a few rows) kept as the statements' JSON parameter. Rows that cannot be
 * taken go to `rejects`; returns the staged rows and the key of each.
 */
export async function stageTable(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  mapping: TableMapping,
  options: StageOptions,
): Promise<{ rows: StagedRows; keys: number[] }> {
  const { rows, keys } = await stageRows(ctx, client, source, mapping, options);
  return { rows: 'lines' in rows ? stagedJson(rows.encoder, rows.lines.join('')) : rows, keys };
}

interface StageOptions {
  stage: string;
  window: { where: string; params: readonly unknown[] } | undefined;
  inline: boolean;
  progress: { done: number; total: number };
  rejects: RowReject[];
  /** Which usable rows are staged (all when absent). */
  keep?: (row: EncodedRow) => boolean;
}

/** stageTable's rows, inline ones kept as their lines (a window's merge leaves out those PostgreSQL holds as they are). */
async function stageRows(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  mapping: TableMapping,
  options: StageOptions,
): Promise<{ rows: StagedRows | InlineRows; keys: number[] }> {
  const encoder = createRowEncoder(mapping, source.columnsOf(mapping.source));
  const keys: number[] = [];
  const lines = readLines(ctx, source, mapping, encoder, options.progress, options.rejects, {
    lineKeys: keys,
    window: options.window,
    keep: options.keep,
  });
  if (options.inline) {
    const chunks: Buffer[] = [];
    for await (const chunk of lines) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString();
    const split =
      text === ''
        ? []
        : text
            .replace(/\n$/, '')
            .split('\n')
            .map((line) => `${line}\n`);
    return { rows: { encoder, lines: split }, keys };
  }
  const staging = await StagingTable.create(client, options.stage, encoder);
  await staging.copy(client, lines).catch((error: unknown) => {
    throw describePgFailure(tableAt(source, mapping), error, keys);
  });
  return { rows: stagedTable(options.stage), keys };
}

/** Rows staged with a usable key (orders: whose trade was staged too). */
async function stagedCounts(client: PoolClient, withOrders: boolean): Promise<{ trades: number; orders: number }> {
  const result = await client.query<{ trades: string; orders: string }>(
    `SELECT (SELECT count(*) FROM stage_trades WHERE trade_id IS NOT NULL) AS trades, ` +
      (withOrders
        ? `(SELECT count(*) FROM stage_orders s WHERE s.order_pk IS NOT NULL AND EXISTS (SELECT 1 FROM stage_trades p WHERE p.trade_id = s.trade_id)) AS orders`
        : '0 AS orders'),
  );
  return { trades: Number(result.rows[0]?.trades ?? 0), orders: Number(result.rows[0]?.orders ?? 0) };
}

/**
 * A temporary table (dropped at commit) that receives a FreqTrade table's rows by COPY, so the
 * merge into the real table is one set-based statement, whatever the number of rows.
 */
class StagingTable {
  private constructor(
    readonly name: string,
    readonly encoder: RowEncoder,
  ) {}

  static async create(client: PoolClient, name: string, encoder: RowEncoder): Promise<StagingTable> {
    const columns = encoder.columns.map(([column, type]) => `${quoteIdent(column)} ${type}`).join(', ');
    await client.query(`CREATE TEMP TABLE ${quoteIdent(name)} (${columns}) ON COMMIT DROP`);
    return new StagingTable(name, encoder);
  }

  // No ANALYZE after the copy: the planner estimates a never-analysed table's rows from its
  // size, which is all the hash joins of the merge need, and ANALYZE costs more than it saves.
  async copy(client: PoolClient, chunks: AsyncIterable<string | Buffer>): Promise<void> {
    await copyLines(client, `COPY ${quoteIdent(this.name)} FROM STDIN`, chunks);
  }
}

/** For orders: the condition on the order `s` that its trade is there. */
export type ParentCheck = string;

/** The trade is staged too. */
function stagedParent(stage: string): ParentCheck {
  return `EXISTS (SELECT 1 FROM ${quoteIdent(stage)} p WHERE p.trade_id = s.trade_id)`;
}

/** Windows: PostgreSQL holds the trade (after the deletions and the trades' merge); `bot` is the bot's parameter. */
function heldParent(bot: string): ParentCheck {
  // A lookup per order (a subquery PostgreSQL cannot turn into a join): as a join it may hash
  // every trade of the bot for a window of a few orders.
  return `(SELECT 1 FROM trades_aggregated pt WHERE pt.bot_id = ${bot}::uuid AND pt.trade_id = s.trade_id LIMIT 1) IS NOT NULL`;
}

/** Staged rows whose key is usable and, for orders, whose trade is there. */
function usable(mapping: TableMapping, parent: ParentCheck | undefined): string {
  const key = `s.${quoteIdent(mapping.key.target)} IS NOT NULL`;
  return parent === undefined ? key : `${key} AND ${parent}`;
}

/**
 * Upserts the staged rows into the real table in one statement; a row whose hash is unchanged
 * is not written at all. Orders (`parent` given) whose trade is not there go to rejects in the
 * same statement, under `sourceRef`. (Orders are read before trades, and FreqTrade writes a
 * trade before its orders, so an order read here always finds its trade unless the source
 * really lacks it.)
 */
export async function mergeStaged(
  client: PoolClient,
  mapping: TableMapping,
  stage: StagedRows,
  botId: string,
  parent?: ParentCheck,
  sourceRef?: string,
): Promise<{ inserted: number; updated: number; orphans: number }> {
  const columns = Object.entries(mapping.columns);
  const key = quoteIdent(mapping.key.target);
  const selected = columns.map(([c, k]) =>
    k === 'date' ? `s.${quoteIdent(c)} AT TIME ZONE 'UTC'` : `s.${quoteIdent(c)}`,
  );
  const targetColumns = ['bot_id', mapping.key.target, ...columns.map(([c]) => c), 'extra', 'row_hash'].map(quoteIdent);
  const updates = [...columns.map(([c]) => c), 'extra', 'row_hash'].map(
    (c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`,
  );
  const params: unknown[] = [botId, ...stage.params];
  // Rows given as a parameter are read once for both uses; a staging table is read as it is.
  const inline = stage.params.length > 0;
  const rows = inline ? 'staged' : stage.from(2);
  const orphaned =
    parent === undefined || sourceRef === undefined
      ? ''
      : `, orphaned AS (
       INSERT INTO rejects (source, collection, source_ref, position, reason)
       SELECT 'bot-sync', 'orders', $${params.push(sourceRef)}, 'id ' || s.order_pk,
              'order ' || s.order_pk || ' belongs to trade ' || s.trade_id || ', which is not in the trades table'
       FROM ${rows} s WHERE s.order_pk IS NOT NULL AND NOT (${parent})
       ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason
       RETURNING 1)`;
  // Only rows whose hash differs from what PostgreSQL holds reach the upsert, so an unchanged row
  // costs a comparison, not a conflict check: for a staging table a hash join over the bot's
  // rows; for a window's few rows given as a parameter a lookup each (OFFSET 0 keeps PostgreSQL
  // from making it a join, which, misjudging the bot's rows, it may do by hashing all of them).
  const lookup = `SELECT t.row_hash FROM ${quoteIdent(mapping.target)} t WHERE t.bot_id = $1::uuid AND t.${key} = s.${key}`;
  const held = inline
    ? `LATERAL (${lookup} OFFSET 0) t ON true`
    : `${quoteIdent(mapping.target)} t ON t.bot_id = $1::uuid AND t.${key} = s.${key}`;
  // A window's merge (rows given as a parameter: one text per table and FreqTrade version) is
  // prepared; a staging table's is planned for the rows staged.
  const sql = `WITH ${inline ? `staged AS (SELECT * FROM ${stage.from(2)} s),` : ''}
     changed AS (
       SELECT s.* FROM ${rows} s
       LEFT JOIN ${held}
       WHERE ${usable(mapping, parent)} AND t.row_hash IS DISTINCT FROM s.row_hash),
     written AS (
       INSERT INTO ${quoteIdent(mapping.target)} (${targetColumns.join(', ')})
       SELECT $1::uuid, s.${key}, ${selected.join(', ')}, s.extra, s.row_hash FROM changed s
       ON CONFLICT (bot_id, ${key}) DO UPDATE SET ${updates.join(', ')}, synced_at = now()
       WHERE ${quoteIdent(mapping.target)}.row_hash IS DISTINCT FROM EXCLUDED.row_hash
       RETURNING (xmax = 0) AS inserted)${orphaned}
     SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated,
       ${orphaned === '' ? '0' : '(SELECT count(*) FROM orphaned)'} AS orphans FROM written`;
  const result = await client.query<{ inserted: string; updated: string; orphans: string }>(
    inline ? prepared(sql, params) : { text: sql, values: params },
  );
  const row = result.rows[0];
  return {
    inserted: Number(row?.inserted ?? 0),
    updated: Number(row?.updated ?? 0),
    orphans: Number(row?.orphans ?? 0),
  };
}

/** Deletes the bot's rows that the source no longer has (deleted in FreqTrade). */
async function deleteUnstaged(
  client: PoolClient,
  mapping: TableMapping,
  stage: string,
  botId: string,
  parent?: ParentCheck,
): Promise<number> {
  const key = quoteIdent(mapping.key.target);
  const result = await client.query(
    `DELETE FROM ${quoteIdent(mapping.target)} t WHERE t.bot_id = $1
     AND NOT EXISTS (SELECT 1 FROM ${quoteIdent(stage)} s WHERE s.${key} = t.${key} AND ${usable(mapping, parent)})`,
    [botId],
  );
  return result.rowCount ?? 0;
}
