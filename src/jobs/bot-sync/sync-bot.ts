import type { PoolClient } from 'pg';
import { findBotDatabase, instanceDir } from '../../bots/bot-instances.js';
import { registerBot } from '../../bots/bot-registry.js';
import { errorMessage, PermanentJobError } from '../../errors.js';
import type { JobContext } from '../job.js';
import { BotDatabase } from './bot-database.js';
import { ordersMapping, tradesMapping } from './freqtrade-columns.js';
import { deleteUnstaged, mergeStaged, rejectOrphanOrders } from './merge-staged.js';
import { createRowEncoder } from './row-encoder.js';
import { StagingTable } from './staging-table.js';
import { sourceFingerprint } from './source-fingerprint.js';
import { describeSqliteFailure } from './sqlite-errors.js';
import { readSyncState, touchSyncSuccess, writeSyncFailure, writeSyncSuccess } from './sync-state.js';

export interface TableCounts {
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export interface BotSyncResult extends TableCounts {
  bot: string;
  ms: number;
  trades: TableCounts;
  orders: TableCounts;
  /** Rows that could not be taken (an order of a trade that does not exist, a row without an id); see `rejects`. */
  rejected: number;
  /** Set when nothing was read: the source was unchanged, or another run holds the bot. */
  skipped?: 'unchanged' | 'locked';
}

/** First key of pg_try_advisory_xact_lock(int, int): the bot-sync lock space. */
const LOCK_SPACE = 0x5f0b07;

const emptyCounts = (): TableCounts => ({ inserted: 0, updated: 0, deleted: 0, unchanged: 0 });

/**
 * Syncs one bot's trades and orders into PostgreSQL, in one transaction that also commits the
 * sync state, so a crash or a retry at any point ends exact. Only rows whose hash differs are
 * written; deletions in FreqTrade are deleted here too.
 */
export async function syncBot(ctx: JobContext, instance: string, options: { full?: boolean } = {}): Promise<BotSyncResult> {
  const started = performance.now();
  const file = await findBotDatabase(ctx.config, instance);
  if (file === undefined) {
    const message = `bot ${instance}: no ${ctx.config.BOT_DB_FILENAMES.join(' or ')} in ${instanceDir(ctx.config, instance)}/user_data`;
    await recordFailure(ctx, instance, message);
    throw new PermanentJobError(message);
  }
  try {
    return await syncFile(ctx, instance, file, options, started);
  } catch (error) {
    await recordFailure(ctx, instance, errorMessage(error));
    throw error;
  }
}

async function syncFile(ctx: JobContext, instance: string, file: string, options: { full?: boolean }, started: number): Promise<BotSyncResult> {
  const fingerprint = await sourceFingerprint(file).catch((error: unknown) => {
    throw describeSqliteFailure(instance, file, error);
  });
  const botId = await registerBot(ctx.pg, instance, file);
  const result: BotSyncResult = { bot: instance, ...emptyCounts(), ms: 0, trades: emptyCounts(), orders: emptyCounts(), rejected: 0 };
  const client = await ctx.pg.connect();
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [LOCK_SPACE, botId]);
    if (lock.rows[0]?.ok !== true) {
      await client.query('ROLLBACK');
      await ctx.log(`bot ${instance}: another sync of this bot is running; this run skips (the running one covers it)`);
      return { ...result, skipped: 'locked', ms: elapsed(started) };
    }
    const state = await readSyncState(client, botId);
    if (!options.full && state?.sourceFingerprint === fingerprint) {
      await touchSyncSuccess(client, botId);
      await client.query('COMMIT');
      await ctx.log(`bot ${instance}: ${file} unchanged since the last sync; nothing read`);
      result.trades.unchanged = state.tradesCount;
      result.orders.unchanged = state.ordersCount;
      return { ...result, unchanged: state.tradesCount + state.ordersCount, skipped: 'unchanged', ms: elapsed(started) };
    }
    const source = BotDatabase.open(instance, file, ctx.config.SQLITE_BUSY_TIMEOUT);
    try {
      await copyChanges(ctx, client, source, botId, result);
    } finally {
      source.close();
    }
    result.ms = elapsed(started);
    await writeSyncSuccess(client, botId, {
      fingerprint,
      tradesCount: result.trades.inserted + result.trades.updated + result.trades.unchanged,
      ordersCount: result.orders.inserted + result.orders.updated + result.orders.unchanged,
      result,
    });
    await client.query('COMMIT');
    await ctx.log(
      `bot ${instance}: trades +${result.trades.inserted} ~${result.trades.updated} -${result.trades.deleted} =${result.trades.unchanged}; ` +
        `orders +${result.orders.inserted} ~${result.orders.updated} -${result.orders.deleted} =${result.orders.unchanged}; ${result.rejected} rejected; ${result.ms} ms`,
    );
    return result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // A client that failed may have lost its connection: destroy it rather than pool it.
    client.release(failure);
  }
}

async function copyChanges(ctx: JobContext, client: PoolClient, source: BotDatabase, botId: string, result: BotSyncResult): Promise<void> {
  // Orders before trades: FreqTrade writes a trade before its orders, so every order read here
  // finds its trade when the trades are read next, even while the bot keeps writing.
  const tables = [...(source.orders ? [{ mapping: ordersMapping, stage: 'stage_orders' }] : []), { mapping: tradesMapping, stage: 'stage_trades' }];
  const progress = { done: 0, total: tables.reduce((n, t) => n + source.count(t.mapping.source), 0) };
  await ctx.progress(progress);
  let unkeyed = 0;
  for (const { mapping, stage } of tables) {
    const staging = await StagingTable.create(client, stage, createRowEncoder(mapping, source.columnsOf(mapping.source)));
    await staging.copy(client, readLines(ctx, source, staging, mapping, progress));
    unkeyed += source.unkeyedCount(mapping.source, mapping.key.source);
  }
  const trades = await mergeStaged(client, tradesMapping, 'stage_trades', botId);
  Object.assign(result.trades, trades);
  let orphans = 0;
  if (source.orders) {
    Object.assign(result.orders, await mergeStaged(client, ordersMapping, 'stage_orders', botId, 'stage_trades'));
    orphans = await rejectOrphanOrders(client, 'stage_orders', 'stage_trades', `${source.bot}:${source.file}`);
    // Orders first: deleting a trade cascades to its orders, which would then go uncounted.
    result.orders.deleted = await deleteUnstaged(client, ordersMapping, 'stage_orders', botId, 'stage_trades');
  } else {
    // No orders table in this FreqTrade version: PostgreSQL keeps none for the bot either.
    result.orders.deleted = (await client.query('DELETE FROM orders WHERE bot_id = $1', [botId])).rowCount ?? 0;
  }
  result.trades.deleted = await deleteUnstaged(client, tradesMapping, 'stage_trades', botId);
  const staged = await stagedCounts(client, Boolean(source.orders));
  result.trades.unchanged = staged.trades - result.trades.inserted - result.trades.updated;
  result.orders.unchanged = staged.orders - result.orders.inserted - result.orders.updated;
  for (const key of ['inserted', 'updated', 'deleted', 'unchanged'] as const) result[key] = result.trades[key] + result.orders[key];
  result.rejected = orphans + unkeyed;
  await ctx.log(
    `bot ${source.bot}: ${staged.trades} trades, ` + (source.orders ? `${staged.orders} orders read` : 'no orders table (older FreqTrade)'),
  );
  if (result.trades.inserted + result.trades.updated > 0) await refreshStrategy(client, botId);
}

/** The table's rows as COPY text, one short SQLite read per chunk, checking for cancellation between chunks. */
async function* readLines(
  ctx: JobContext,
  source: BotDatabase,
  staging: StagingTable,
  mapping: typeof tradesMapping,
  progress: { done: number; total: number },
): AsyncGenerator<string> {
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    if (ctx.signal.aborted) throw new Error(`bot ${source.bot}: sync aborted`);
    const rows = source.chunk(mapping.source, mapping.key.source, after, ctx.config.SYNC_BATCH_SIZE);
    if (rows.length === 0) return;
    let text = '';
    for (const row of rows) {
      const encoded = staging.encoder.encode(row);
      if (encoded.key !== null) after = encoded.key;
      text += encoded.line;
    }
    progress.done += rows.length;
    await ctx.progress({ ...progress });
    yield text;
    if (rows.length < ctx.config.SYNC_BATCH_SIZE) return;
  }
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

async function refreshStrategy(client: PoolClient, botId: string): Promise<void> {
  await client.query(
    `UPDATE bots SET strategy_name = latest.strategy, updated_at = now()
     FROM (SELECT strategy FROM trades_aggregated WHERE bot_id = $1 AND strategy IS NOT NULL ORDER BY open_date DESC NULLS LAST LIMIT 1) AS latest
     WHERE bots.id = $1 AND bots.strategy_name IS DISTINCT FROM latest.strategy`,
    [botId],
  );
}

async function recordFailure(ctx: JobContext, instance: string, message: string): Promise<void> {
  await writeSyncFailure(ctx.pg, instance, message).catch((error: unknown) => {
    ctx.logger.warn('could not record a bot-sync failure', { bot: instance, error: errorMessage(error) });
  });
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
