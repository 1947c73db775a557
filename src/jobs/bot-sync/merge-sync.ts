import type { PoolClient } from 'pg';
import type { TableWindow } from '../../bots/change-window.js';
import type { JobContext } from '../job.js';
import type { BotDatabase } from './bot-database.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { describePgFailure, tableAt } from './pg-failure.js';
import { readLines, recordRowRejects, type RowReject } from './read-lines.js';
import { createRowEncoder, type RowEncoder } from './row-encoder.js';
import { copyLines, quoteIdent } from './pg-copy.js';
import type { StagedIdTables as StagedIds } from './reset-check.js';
import type { BotSyncResult } from './sync-result.js';

/**
 * The rows of a change window (bots/change-window.ts): per table, the WHERE of the window and the
 * ids it selects. Every id of both tables is staged too (stage_trade_ids, stage_order_ids), so
 * deletions are found without reading the rows.
 */
export interface SyncWindows {
  trades: TableWindow;
  tradeIds: readonly number[];
  orders: TableWindow | undefined;
  orderIds: readonly number[];
}

/**
 * A bot PostgreSQL already holds: the source's rows (every row, or those of `windows`) are staged
 * by COPY into temporary tables, then merged in one statement per table. Rows whose hash is
 * unchanged are not written, rows the source lost are deleted, so after k changes about k rows
 * are written.
 */
export async function mergeSync(
  ctx: JobContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  result: BotSyncResult,
  beforeWrite?: (ids: StagedIds) => Promise<void>,
  windows?: SyncWindows,
): Promise<void> {
  const unusable = await stageSource(ctx, client, source, windows);
  const ids: StagedIds = windows
    ? { trades: 'stage_trade_ids', orders: 'stage_order_ids' }
    : { trades: 'stage_trades', orders: 'stage_orders' };
  // The staged source is what the guard against a replaced database looks at, before any write.
  await beforeWrite?.(ids);
  const named = <T>(mapping: TableMapping, write: Promise<T>): Promise<T> =>
    write.catch((error: unknown) => {
      throw describePgFailure(tableAt(source, mapping), error);
    });
  const trades = await named(tradesMapping, mergeStaged(client, tradesMapping, 'stage_trades', botId));
  Object.assign(result.trades, trades);
  let orphans = 0;
  if (source.orders) {
    // An order is taken when its trade is in the source; with windows, that trade may be one
    // PostgreSQL holds already rather than one read now.
    const parent = stagedParent(windows ? await stageParents(client, botId) : 'stage_trades');
    Object.assign(
      result.orders,
      await named(ordersMapping, mergeStaged(client, ordersMapping, 'stage_orders', botId, parent)),
    );
    orphans = await rejectOrphanOrders(client, 'stage_orders', parent, `${source.bot}:${source.file}`);
    // Orders first: deleting a trade cascades to its orders, which would then go uncounted.
    result.orders.deleted += await deleteUnstaged(client, ordersMapping, ids.orders, botId, stagedParent(ids.trades));
  } else {
    // No orders table in this FreqTrade version: PostgreSQL keeps none for the bot either.
    result.orders.deleted += (await client.query('DELETE FROM orders WHERE bot_id = $1', [botId])).rowCount ?? 0;
  }
  result.trades.deleted += await deleteUnstaged(client, tradesMapping, ids.trades, botId);
  const staged = await stagedCounts(client, Boolean(source.orders));
  if (windows) {
    // Rows outside the window are unchanged by definition: what PostgreSQL holds now, less what was written.
    const held = await heldCounts(client, botId);
    result.trades.unchanged = held.trades - result.trades.inserted - result.trades.updated;
    result.orders.unchanged = held.orders - result.orders.inserted - result.orders.updated;
  } else {
    result.trades.unchanged = staged.trades - result.trades.inserted - result.trades.updated;
    result.orders.unchanged = staged.orders - result.orders.inserted - result.orders.updated;
  }
  result.rejected = orphans + unusable;
  await ctx.log(
    `bot ${source.bot}: ${staged.trades} trades, ` +
      (source.orders ? `${staged.orders} orders read` : 'no orders table (older FreqTrade)') +
      (windows ? ' (change windows)' : ''),
  );
}

/**
 * Copies the source's orders and trades (all, or those of `windows`) into temporary tables
 * stage_orders and stage_trades (dropped at commit); with windows, every id into stage_order_ids
 * and stage_trade_ids too. Rows that cannot be taken (an unusable key, a required value missing)
 * are recorded in rejects instead; returns how many.
 */
export async function stageSource(
  ctx: JobContext,
  client: PoolClient,
  source: BotDatabase,
  windows?: SyncWindows,
): Promise<number> {
  // Orders before trades: FreqTrade writes a trade before its orders, so every order read here
  // finds its trade when the trades are read next, even while the bot keeps writing.
  const tables = [
    ...(source.orders ? [{ mapping: ordersMapping, stage: 'stage_orders', window: windows?.orders }] : []),
    { mapping: tradesMapping, stage: 'stage_trades', window: windows?.trades },
  ];
  const progress = {
    done: 0,
    total: windows
      ? windows.tradeIds.length + windows.orderIds.length
      : tables.reduce((n, t) => n + source.count(t.mapping.source), 0),
  };
  await ctx.progress(progress);
  const rejects: RowReject[] = [];
  for (const { mapping, stage, window } of tables) {
    const staging = await StagingTable.create(
      client,
      stage,
      createRowEncoder(mapping, source.columnsOf(mapping.source)),
    );
    const lineKeys: number[] = [];
    await staging
      .copy(client, readLines(ctx, source, mapping, staging.encoder, progress, rejects, { lineKeys, window }))
      .catch((error: unknown) => {
        throw describePgFailure(tableAt(source, mapping), error, lineKeys);
      });
  }
  if (windows === undefined) return recordRowRejects(client, source.bot, source.file, rejects);
  await stageIds(client, source, rejects);
  return recordRowRejects(client, source.bot, source.file, rejects, [
    { table: tradesMapping.source, rowids: windows.tradeIds },
    { table: ordersMapping.source, rowids: windows.orderIds },
  ]);
}

/**
 * Every id of the source's trades and orders (index only, no row read), less the rows the window
 * read and rejected: what PostgreSQL keeps of the bot, as a full compare would find it.
 */
async function stageIds(client: PoolClient, source: BotDatabase, rejects: readonly RowReject[]): Promise<void> {
  const rejected = (table: string) => new Set(rejects.filter((r) => r.table === table).map((r) => Number(r.rowid)));
  const read = <T>(step: () => T): T => source.guard(step);
  await client.query('CREATE TEMP TABLE stage_trade_ids (trade_id bigint PRIMARY KEY) ON COMMIT DROP');
  const skipTrades = rejected(tradesMapping.source);
  await copyLines(
    client,
    'COPY stage_trade_ids FROM STDIN',
    idLines(read, () => source.db.prepare<[], unknown[]>('SELECT rowid FROM trades').raw(true).iterate(), skipTrades),
  );
  await client.query('CREATE TEMP TABLE stage_order_ids (order_pk bigint PRIMARY KEY, trade_id bigint) ON COMMIT DROP');
  if (source.orders) {
    const skipOrders = rejected(ordersMapping.source);
    await copyLines(
      client,
      'COPY stage_order_ids FROM STDIN',
      idLines(
        read,
        () => source.db.prepare<[], unknown[]>('SELECT rowid, ft_trade_id FROM orders').raw(true).iterate(),
        skipOrders,
      ),
    );
  }
}

/** COPY lines of id rows (an integer id, then maybe a parent id), in chunks; `read` guards the file's reads. */
async function* idLines(
  read: <T>(step: () => T) => T,
  rows: () => Iterator<unknown[]>,
  skip: ReadonlySet<number>,
): AsyncGenerator<string> {
  let text = '';
  let n = 0;
  const iterator = read(rows);
  try {
    for (;;) {
      const next = read(() => iterator.next());
      if (next.done === true) break;
      const row = next.value;
      if (skip.has(Number(row[0]))) continue;
      text += row.map((v) => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : '\\N')).join('\t') + '\n';
      if (++n % 10_000 === 0) {
        yield text;
        text = '';
      }
    }
  } finally {
    iterator.return?.();
  }
  if (text !== '') yield text;
}

/**
 * Windows: the trades an order may belong to, those in the source that PostgreSQL holds after
 * the trades' merge (a trade the window did not read is one PostgreSQL has already).
 */
async function stageParents(client: PoolClient, botId: string): Promise<string> {
  await client.query(
    `CREATE TEMP TABLE stage_parents ON COMMIT DROP AS
     SELECT p.trade_id FROM stage_trade_ids p JOIN trades_aggregated t ON t.bot_id = $1 AND t.trade_id = p.trade_id`,
    [botId],
  );
  return 'stage_parents';
}

/** Rows PostgreSQL holds for the bot. */
async function heldCounts(client: PoolClient, botId: string): Promise<{ trades: number; orders: number }> {
  const { rows } = await client.query<{ trades: number; orders: number }>(
    `SELECT (SELECT count(*) FROM trades_aggregated WHERE bot_id = $1)::int AS trades,
            (SELECT count(*) FROM orders WHERE bot_id = $1)::int AS orders`,
    [botId],
  );
  return rows[0]!;
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
type ParentCheck = string;

/** The trade is staged (a full compare), or its id is (windows). */
function stagedParent(stage: string): ParentCheck {
  return `EXISTS (SELECT 1 FROM ${quoteIdent(stage)} p WHERE p.trade_id = s.trade_id)`;
}

/** Staged rows whose key is usable and, for orders, whose trade is there. */
function usable(mapping: TableMapping, parent: ParentCheck | undefined): string {
  const key = `s.${quoteIdent(mapping.key.target)} IS NOT NULL`;
  return parent === undefined ? key : `${key} AND ${parent}`;
}

/**
 * Upserts the staged rows into the real table in one statement; a row whose hash is unchanged
 * is not written at all.
 */
async function mergeStaged(
  client: PoolClient,
  mapping: TableMapping,
  stage: string,
  botId: string,
  parent?: ParentCheck,
): Promise<{ inserted: number; updated: number }> {
  const columns = Object.entries(mapping.columns);
  const key = quoteIdent(mapping.key.target);
  const selected = columns.map(([c, k]) =>
    k === 'date' ? `s.${quoteIdent(c)} AT TIME ZONE 'UTC'` : `s.${quoteIdent(c)}`,
  );
  const targetColumns = ['bot_id', mapping.key.target, ...columns.map(([c]) => c), 'extra', 'row_hash'].map(quoteIdent);
  const updates = [...columns.map(([c]) => c), 'extra', 'row_hash'].map(
    (c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`,
  );
  // Only rows whose hash differs from what PostgreSQL holds reach the upsert (a hash join over
  // the bot's rows), so an unchanged row costs a comparison, not a conflict check.
  const result = await client.query<{ inserted: string; updated: string }>(
    `WITH changed AS (
       SELECT s.* FROM ${quoteIdent(stage)} s
       LEFT JOIN ${quoteIdent(mapping.target)} t ON t.bot_id = $1::uuid AND t.${key} = s.${key}
       WHERE ${usable(mapping, parent)} AND t.row_hash IS DISTINCT FROM s.row_hash),
     written AS (
       INSERT INTO ${quoteIdent(mapping.target)} (${targetColumns.join(', ')})
       SELECT $1::uuid, s.${key}, ${selected.join(', ')}, s.extra, s.row_hash FROM changed s
       ON CONFLICT (bot_id, ${key}) DO UPDATE SET ${updates.join(', ')}, synced_at = now()
       WHERE ${quoteIdent(mapping.target)}.row_hash IS DISTINCT FROM EXCLUDED.row_hash
       RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written`,
    [botId],
  );
  const row = result.rows[0];
  return { inserted: Number(row?.inserted ?? 0), updated: Number(row?.updated ?? 0) };
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

/**
 * Orders of a trade the source does not have go to rejects. (Orders are read before trades, and
 * FreqTrade writes a trade before its orders, so an order read here always finds its trade
 * unless the source really lacks it.)
 */
async function rejectOrphanOrders(
  client: PoolClient,
  ordersStage: string,
  parent: ParentCheck,
  sourceRef: string,
): Promise<number> {
  const result = await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason)
     SELECT 'bot-sync', 'orders', $1, 'id ' || s.order_pk,
            'order ' || s.order_pk || ' belongs to trade ' || s.trade_id || ', which is not in the trades table'
     FROM ${quoteIdent(ordersStage)} s
     WHERE s.order_pk IS NOT NULL
       AND NOT (${parent})
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason`,
    [sourceRef],
  );
  return result.rowCount ?? 0;
}
