import type { PoolClient } from 'pg';
import type { JobContext } from '../job.js';
import type { BotDatabase } from './bot-database.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { describePgFailure, tableAt } from './pg-failure.js';
import { deleteUnstaged, mergeStaged, rejectOrphanOrders } from './merge-staged.js';
import { readLines, recordRowRejects, type RowReject } from './read-lines.js';
import { createRowEncoder } from './row-encoder.js';
import { StagingTable } from './staging-table.js';
import type { BotSyncResult } from './sync-result.js';

/**
 * A bot PostgreSQL already holds: every source row is staged by COPY into temporary tables,
 * then merged in one statement per table. Rows whose hash is unchanged are not written, rows
 * the source lost are deleted, so after k changes about k rows are written.
 */
export async function mergeSync(
  ctx: JobContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  result: BotSyncResult,
  beforeWrite?: () => Promise<void>,
): Promise<void> {
  const unusable = await stageSource(ctx, client, source);
  // The staged source is what the guard against a replaced database looks at, before any write.
  await beforeWrite?.();
  const named = <T>(mapping: TableMapping, write: Promise<T>): Promise<T> =>
    write.catch((error: unknown) => {
      throw describePgFailure(tableAt(source, mapping), error);
    });
  const trades = await named(tradesMapping, mergeStaged(client, tradesMapping, 'stage_trades', botId));
  Object.assign(result.trades, trades);
  let orphans = 0;
  if (source.orders) {
    Object.assign(
      result.orders,
      await named(ordersMapping, mergeStaged(client, ordersMapping, 'stage_orders', botId, 'stage_trades')),
    );
    orphans = await rejectOrphanOrders(client, 'stage_orders', 'stage_trades', `${source.bot}:${source.file}`);
    // Orders first: deleting a trade cascades to its orders, which would then go uncounted.
    result.orders.deleted += await deleteUnstaged(client, ordersMapping, 'stage_orders', botId, 'stage_trades');
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
}

/**
 * Copies the source's orders and trades into temporary tables stage_orders and stage_trades
 * (dropped at commit). Rows that cannot be taken (an unusable key, a required value missing)
 * are recorded in rejects instead; returns how many.
 */
export async function stageSource(ctx: JobContext, client: PoolClient, source: BotDatabase): Promise<number> {
  // Orders before trades: FreqTrade writes a trade before its orders, so every order read here
  // finds its trade when the trades are read next, even while the bot keeps writing.
  const tables = [
    ...(source.orders ? [{ mapping: ordersMapping, stage: 'stage_orders' }] : []),
    { mapping: tradesMapping, stage: 'stage_trades' },
  ];
  const progress = { done: 0, total: tables.reduce((n, t) => n + source.count(t.mapping.source), 0) };
  await ctx.progress(progress);
  const rejects: RowReject[] = [];
  for (const { mapping, stage } of tables) {
    const staging = await StagingTable.create(
      client,
      stage,
      createRowEncoder(mapping, source.columnsOf(mapping.source)),
    );
    const lineKeys: number[] = [];
    await staging
      .copy(client, readLines(ctx, source, mapping, staging.encoder, progress, rejects, { lineKeys }))
      .catch((error: unknown) => {
        throw describePgFailure(tableAt(source, mapping), error, lineKeys);
      });
  }
  return recordRowRejects(client, source.bot, source.file, rejects);
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
