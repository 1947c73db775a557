import type { PoolClient } from 'pg';
import { findBotDatabase, instanceDir } from '../../bots/bot-instances.js';
import { registerBot } from '../../bots/bot-registry.js';
import { errorMessage, PermanentJobError } from '../../errors.js';
import type { JobContext } from '../job.js';
import { BotDatabase, type RowDigest } from './bot-database.js';
import { ordersMapping, tradesMapping } from './freqtrade-columns.js';
import { deleteRows, storedHashes, upsertRows } from './pg-writer.js';
import type { ColumnPlan } from './row-normalizer.js';
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
  /** Set when nothing was read: the source was unchanged since the last sync. */
  skipped?: 'unchanged';
}

/** First key of pg_advisory_xact_lock(int, int): the bot-sync lock space. */
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
    await lockBot(ctx, client, instance, botId);
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

/**
 * Takes the bot's lock for this transaction, waiting up to SYNC_LOCK_TIMEOUT for a run that
 * holds it. Never skips: a holder can still die (kill -9, lost connection) and roll back, and a
 * run that had skipped would have completed with the bot's changes unwritten. Once the holder
 * has committed, this run finds the source unchanged and reads nothing. Past the timeout: a
 * retryable error, so the job runs again after its backoff.
 */
async function lockBot(ctx: JobContext, client: PoolClient, instance: string, botId: string): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ctx.config.SYNC_LOCK_TIMEOUT}ms`]);
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_SPACE, botId]);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== '55P03') throw error; // lock_not_available
    throw new Error(`bot ${instance}: another sync of this bot has held it for more than ${ctx.config.SYNC_LOCK_TIMEOUT} ms; retrying later`, { cause: error });
  }
  await client.query('SET LOCAL lock_timeout TO DEFAULT');
}

async function copyChanges(ctx: JobContext, client: PoolClient, source: BotDatabase, botId: string, result: BotSyncResult): Promise<void> {
  const digest = source.digest();
  const rejects: Array<{ table: string; position: string; reason: string }> = [];
  for (const reason of digest.trades.unkeyed) rejects.push({ table: 'trades', position: 'unknown', reason: `row without a usable id: ${reason}` });
  if (digest.orders) {
    for (const reason of digest.orders.unkeyed) rejects.push({ table: 'orders', position: 'unknown', reason: `row without a usable id: ${reason}` });
    for (const [order, trade] of digest.orders.parents) {
      if (digest.trades.hashes.has(trade)) continue;
      digest.orders.hashes.delete(order);
      rejects.push({ table: 'orders', position: `id ${order}`, reason: `order ${order} belongs to trade ${trade}, which is not in the trades table` });
    }
  }
  const storedTrades = await storedHashes(client, tradesMapping, botId);
  const storedOrders = digest.orders ? await storedHashes(client, ordersMapping, botId) : new Map<number, string>();
  const changedTrades = changedKeys(digest.trades, storedTrades);
  const changedOrders = digest.orders ? changedKeys(digest.orders, storedOrders) : [];
  const total = changedTrades.length + changedOrders.length;
  await ctx.log(
    `bot ${source.bot}: ${digest.trades.hashes.size} trades (${changedTrades.length} new or changed), ` +
      (digest.orders ? `${digest.orders.hashes.size} orders (${changedOrders.length} new or changed)` : 'no orders table (older FreqTrade)'),
  );
  const progress = { done: 0, total };
  await ctx.progress(progress);
  await writeChanged(ctx, client, source, source.trades, botId, changedTrades, result.trades, progress);
  if (source.orders) await writeChanged(ctx, client, source, source.orders, botId, changedOrders, result.orders, progress);
  // Orders first: deleting a trade cascades to its orders, which would then go uncounted.
  result.orders.deleted = await deleteRows(client, ordersMapping, botId, missingKeys(storedOrders, digest.orders?.hashes));
  result.trades.deleted = await deleteRows(client, tradesMapping, botId, missingKeys(storedTrades, digest.trades.hashes));
  result.trades.unchanged = digest.trades.hashes.size - changedTrades.length;
  result.orders.unchanged = (digest.orders?.hashes.size ?? 0) - changedOrders.length;
  for (const key of ['inserted', 'updated', 'deleted', 'unchanged'] as const) result[key] = result.trades[key] + result.orders[key];
  result.rejected = rejects.length;
  if (rejects.length > 0) await recordRejects(client, source, rejects);
  if (changedTrades.length > 0) await refreshStrategy(client, botId);
}

async function writeChanged(
  ctx: JobContext,
  client: PoolClient,
  source: BotDatabase,
  plan: ColumnPlan,
  botId: string,
  keys: readonly number[],
  counts: TableCounts,
  progress: { done: number; total: number },
): Promise<void> {
  const size = ctx.config.SYNC_BATCH_SIZE;
  for (let start = 0; start < keys.length; start += size) {
    if (ctx.signal.aborted) throw new Error(`bot ${source.bot}: sync aborted`);
    const rows = source.fetch(plan, keys.slice(start, start + size));
    const written = await upsertRows(client, plan.mapping, botId, rows);
    counts.inserted += written.inserted;
    counts.updated += written.updated;
    progress.done += Math.min(size, keys.length - start);
    await ctx.progress({ ...progress });
  }
}

function changedKeys(digest: RowDigest, stored: ReadonlyMap<number, string>): number[] {
  const keys: number[] = [];
  for (const [key, hash] of digest.hashes) if (stored.get(key) !== hash) keys.push(key);
  return keys;
}

function missingKeys(stored: ReadonlyMap<number, string>, present: ReadonlyMap<number, string> | undefined): number[] {
  return [...stored.keys()].filter((key) => !present?.has(key));
}

async function recordRejects(client: PoolClient, source: BotDatabase, rejects: ReadonlyArray<{ table: string; position: string; reason: string }>): Promise<void> {
  await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason)
     SELECT 'bot-sync', r.tbl, $1, r.pos, r.reason FROM jsonb_to_recordset($2::jsonb) AS r(tbl text, pos text, reason text)
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason`,
    [`${source.bot}:${source.file}`, JSON.stringify(rejects.map((r) => ({ tbl: r.table, pos: r.position, reason: r.reason })))],
  );
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
