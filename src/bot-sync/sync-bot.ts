import type { PoolClient } from 'pg';
import {
  botDatabaseIdentity,
  describeBotDatabaseError,
  findBotDatabaseFile,
  fingerprintBotDatabase,
} from '../bots/bot-database-file.js';
import { readBotConfig } from '../bots/bot-config.js';
import { instanceDir } from '../bots/bot-instances.js';
import { botStatus, registerBot, RegistryMemory, type BotProfile } from '../bots/bot-registry.js';
import type { WindowMemory } from '../bots/change-window.js';
import { datesScanSince, indexedHighWater, nextDatesScan, type DatesScan } from '../bots/dates-scan.js';
import { planRead, unchangedRun, type RunFacts } from '../bots/run-plan.js';
import { takeTransactionLock, tryTakeTransactionLock } from '../connections/advisory-locks.js';
import { withTransaction } from '../connections/transaction.js';
import { judgeReset, resetRefusal, type AcceptReset } from '../bots/reset-guard.js';
import { errorMessage } from '../errors.js';
import type { BotSyncContext } from './sync-context.js';
import { botDatabases } from './bot-database-cache.js';
import { firstSync } from './first-sync.js';
import { mergeSync, type SyncWindows } from './merge-sync.js';
import { endEpoch, type EndedEpoch } from './end-epoch.js';
import { gatherResetEvidence } from './reset-evidence.js';
import { heldAfter, syncOtherTables, type OtherTablesResult } from './other-tables.js';
import { planSyncWindows, readSyncState, touchSyncSuccess, writeSyncFailure, writeSyncSuccess } from './sync-state.js';
import { emptyCounts, sumCounts, type BotSyncResult, type ReadCounts } from './sync-result.js';

export type { BotSyncResult } from './sync-result.js';

export interface SyncOptions {
  /** Compare every row (no change windows), even when the file looks unchanged. */
  full?: boolean;
  /** The operator accepts a replaced database: its old rows are archived as an epoch, or deleted. */
  acceptReset?: AcceptReset;
}

/**
 * Syncs one bot's trades and orders, and its other tables (other-tables.ts: pairlocks, custom
 * data, wallet history, key-value store), into PostgreSQL, in one transaction that also commits the
 * sync state (and releases the bot's hold, if any), so a crash or a retry at any point ends exact.
 * Only rows whose hash differs are written; deletions in FreqTrade are deleted here too.
 */
export async function syncBot(
  ctx: BotSyncContext,
  instance: string,
  options: SyncOptions = {},
): Promise<BotSyncResult> {
  const started = performance.now();
  try {
    const file = await findBotDatabaseFile(ctx.config, instance);
    return await syncFile(ctx, instance, file, options, started);
  } catch (error) {
    await recordFailure(ctx, instance, errorMessage(error));
    throw error;
  }
}

async function syncFile(
  ctx: BotSyncContext,
  instance: string,
  file: string,
  options: SyncOptions,
  started: number,
): Promise<BotSyncResult> {
  const profile = await readProfile(ctx, instance, file);
  // A bot this process registered as it is now sends no registration: its row is checked in the
  // statement that reads its state, and registered again there if written since (RegistryMemory).
  const registry = RegistryMemory.of(ctx.pg);
  const known = registry.known(instance, file, profile);
  let registration = known ?? (await registerBot(ctx.pg, instance, file, profile));
  // The log lines follow the COMMIT: what they report is written.
  /** What a windowed run read, for its one log line. */
  let windowsRead = '';
  const synced = await withTransaction(ctx.pg, async (client): Promise<BotSyncResult> => {
    windowsRead = '';
    await lockBot(ctx, client, instance, registration.id);
    // Looked at inside the transaction: its start time is what last_success_at records (lag,
    // freshness), so a sync never claims a moment later than the one it saw the file at.
    const fingerprint = await sourceFingerprint(file).catch((error: unknown) => {
      throw describeBotDatabaseError(instance, file, error);
    });
    const identity = await botDatabaseIdentity(file);
    let state = await readSyncState(client, registration.id, known?.version);
    if (known !== undefined && state?.registrationCurrent !== true) {
      const again = await registerBot(client, instance, file, profile);
      if (again.id !== registration.id) {
        // Not the row remembered (it was deleted): the new one's lock and state.
        await lockBot(ctx, client, instance, again.id);
        state = await readSyncState(client, again.id);
      }
      registration = again;
    }
    const botId = registration.id;
    const facts: RunFacts = {
      memory: state?.window,
      now: new Date(),
      fingerprint,
      recordedFingerprint: state?.sourceFingerprint,
      identity,
      recordedIdentity: state?.sourceIdentity,
      asked: options.full === true,
      config: ctx.config,
    };
    if (state !== undefined && unchangedRun(facts)) {
      await touchSyncSuccess(client, botId, instance);
      const trades = { ...emptyCounts(), unchanged: state.tradesCount };
      const orders = { ...emptyCounts(), unchanged: state.ordersCount };
      return {
        bot: instance,
        ...sumCounts(trades, orders),
        ms: elapsed(started),
        trades,
        orders,
        rejected: 0,
        skipped: 'unchanged',
      };
    }
    // Kept open since the bot's last run when it still is this file (bot-database-cache.ts).
    const lease = await botDatabases.checkout(instance, file, ctx.config);
    const { source } = lease;
    let succeeded = false;
    let window: WindowMemory;
    let datesScan: DatesScan;
    let fullCompare: string | undefined;
    let reset: EndedEpoch | undefined;
    let written: ReadCounts;
    let others: OtherTablesResult;
    try {
      // A bot PostgreSQL holds nothing of yet is copied straight in; any other is merged, by
      // change windows when they can be trusted, else comparing every row. (The state row tells,
      // in the statement that reads it; without one, PostgreSQL is asked.)
      const holdsTrades =
        state?.holdsTrades ??
        ((await client.query('SELECT 1 FROM trades_aggregated WHERE bot_id = $1 LIMIT 1', [botId])).rowCount ?? 0) > 0;
      // One snapshot for the window's reads: its ids, rows and latest date agree.
      source.guard(() => source.db.exec('BEGIN'));
      const before = state?.sourceIdentity ?? undefined;
      const identityPair = before !== undefined && identity !== undefined ? { before, now: identity } : undefined;
      const plan = await planRead(
        { ...facts, everyRowBecause: holdsTrades ? undefined : 'first sync' },
        {
          db: source.db,
          tables: ['trades', 'orders'],
          read: (step) => source.guard(step),
          scan: async (since) => {
            const datesSince = datesScanSince(
              instance,
              state!,
              state!.tradesCount + state!.ordersCount,
              facts.now,
              ctx.config,
              since,
            );
            const planned = await planSyncWindows(
              client,
              source,
              botId,
              datesSince,
              {
                trades: state!.tradesCount,
                orders: state!.ordersCount,
                others: state!.otherCounts,
              },
              since,
              ctx.config.SYNC_BATCH_SIZE,
            );
            if (typeof planned === 'string') return planned;
            const highWater = planned.datesScanned ? planned.highWater : indexedHighWater(state!, planned.highWater);
            return { ...planned, highWater, scanned: ['trades', 'orders'] };
          },
        },
      );
      const windows: SyncWindows | undefined = plan.read === 'windows' ? plan.scan : undefined;
      // A full read is chunks of short reads, never one long snapshot (it would hold the WAL back).
      if (plan.read === 'every row') source.db.exec('COMMIT');
      // Told with the run's counts at its end: each job.log line is a Redis round trip, and a
      // windowed run lasts a moment.
      windowsRead =
        plan.read === 'windows'
          ? `change windows since ${plan.since.toISOString()} (${plan.scan.tradeIds.length} trades, ${plan.scan.orderIds.length} orders): `
          : '';
      if (plan.read === 'every row' && holdsTrades) {
        fullCompare = plan.because;
        await ctx.log(`bot ${instance}: comparing every row: ${plan.because}`);
      }
      window = plan.next;
      datesScan = nextDatesScan(state, {
        datesRead: plan.read === 'every row' || windows?.datesScanned === true,
        at: facts.now,
        highWater: plan.next.highWater,
      });
      written = !holdsTrades
        ? await firstSync(ctx, client, source, botId)
        : await mergeSync(
            ctx,
            client,
            source,
            botId,
            async (ids) => {
              // Before any write: a replaced database must not wipe the bot's history.
              const evidence = await gatherResetEvidence(client, botId, Boolean(source.orders), identityPair, ids);
              const verdict = judgeReset(evidence, ctx.config.DELETE_GUARD_RATIO);
              if (!verdict.suspected) return undefined;
              if (options.acceptReset === undefined) {
                throw resetRefusal({ bot: instance, file, job: 'bot-sync', verdict, choices: ACCEPT_CHOICES });
              }
              const ended = await endEpoch(client, {
                botId,
                kept: options.acceptReset,
                findings: verdict.findings,
                file,
              });
              reset = ended;
              await ctx.log(
                `bot ${instance}: reset accepted (${verdict.findings.join('; ')}): epoch ${ended.epoch} ` +
                  `(${ended.trades} trades, ${ended.orders} orders) ${ended.kept === 'archive' ? 'archived' : 'deleted'}`,
              );
              return ended.kept === 'delete'
                ? { trades: ended.trades, orders: ended.orders, emptied: true }
                : { trades: 0, orders: 0, emptied: true };
            },
            windows,
          );
      // In the window's snapshot too, after the reset guard (an accepted reset ended these tables'
      // epoch as well, so then every row of them is written, as mergeSync writes every trade).
      // What the windows' plan read of the other tables is theirs still, unless a reset ended their epoch.
      const byWindows = plan.read === 'windows' && reset === undefined;
      others = await syncOtherTables(ctx, client, source, botId, byWindows ? plan.scan.otherTables : undefined);
      if (source.db.inTransaction) source.db.exec('COMMIT');
      if (options.acceptReset !== undefined && reset === undefined)
        await ctx.log(
          `bot ${instance}: --accept-reset given, but the database does not look replaced; synced as usual`,
        );
      if (staleCheckCouldCost(written)) await replanForeignKeyChecks(client);
      succeeded = true;
    } finally {
      botDatabases.release(lease, succeeded);
    }
    const result: BotSyncResult = {
      bot: instance,
      ...sumCounts(written.trades, written.orders),
      ms: elapsed(started),
      ...written,
      rejected: written.rejected + others.rejected,
      otherTables: others.tables,
      ...(reset === undefined ? {} : { reset }),
      ...(fullCompare === undefined ? {} : { fullCompare }),
    };
    await writeSyncSuccess(client, botId, instance, {
      fingerprint,
      identity: identity ?? null,
      tradesCount: result.trades.inserted + result.trades.updated + result.trades.unchanged,
      ordersCount: result.orders.inserted + result.orders.updated + result.orders.unchanged,
      otherCounts: heldAfter(others),
      result,
      window,
      datesScan,
      tradesWritten: result.trades.inserted + result.trades.updated + result.trades.deleted > 0,
    });
    return result;
  }).catch(async (error: unknown) => {
    // A failed run's windows are told all the same (the error is the job's own report).
    if (windowsRead !== '') await ctx.log(`bot ${instance}: ${windowsRead}nothing written`).catch(() => undefined);
    throw error;
  });
  registry.remember(instance, file, profile, registration);
  await ctx.log(
    synced.skipped === 'unchanged'
      ? `bot ${instance}: ${file} unchanged since the last sync; nothing read`
      : `bot ${instance}: ${windowsRead}trades +${synced.trades.inserted} ~${synced.trades.updated} -${synced.trades.deleted} =${synced.trades.unchanged}; ` +
          `orders +${synced.orders.inserted} ~${synced.orders.updated} -${synced.orders.deleted} =${synced.orders.unchanged}; ` +
          Object.entries(synced.otherTables ?? {})
            .map(([table, c]) => `${table} +${c.inserted} ~${c.updated} -${c.deleted} =${c.unchanged}; `)
            .join('') +
          `${synced.rejected} rejected; ${synced.ms} ms`,
  );
  return synced;
}

/**
 * Takes the bot's lock for this transaction, waiting up to SYNC_LOCK_TIMEOUT for a run that
 * holds it. Never skips: a holder can still die (kill -9, lost connection) and roll back, and a
 * run that had skipped would have completed with the bot's changes unwritten. Once the holder
 * has committed, this run finds the source unchanged and reads nothing. Past the timeout: a
 * retryable error, so the job runs again after its backoff.
 */
async function lockBot(ctx: BotSyncContext, client: PoolClient, instance: string, botId: string): Promise<void> {
  // Free almost always: one statement, and the timeout only set for a wait.
  if (await tryTakeTransactionLock(client, 'bot-sync', botId)) return;
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ctx.config.SYNC_LOCK_TIMEOUT}ms`]);
  try {
    await takeTransactionLock(client, 'bot-sync', botId);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== '55P03') throw error; // lock_not_available
    throw new Error(
      `bot ${instance}: another sync of this bot has held it for more than ${ctx.config.SYNC_LOCK_TIMEOUT} ms; retrying later`,
      { cause: error },
    );
  }
  await client.query('SET LOCAL lock_timeout TO DEFAULT');
}

/**
 * The orders written are checked against their trades at COMMIT (the key is deferred), one
 * lookup per order, by a plan each connection keeps for its life (the foreign key's trigger
 * caches it, generic after five runs, until trades_aggregated's statistics change). Planned
 * while the table was small and never analysed, PostgreSQL's default guess for `bot_id = $1`
 * makes any index led by bot_id look as good as the (bot_id, trade_id) key, and the plan it
 * keeps finds the trade by bot_id alone: every order walks its bot's trades, minutes for a big
 * bot's first sync in a worker that synced a small bot before. Dropping the connection's plans
 * makes the check planned again against the table as it is now, as in a fresh process.
 */
async function replanForeignKeyChecks(client: PoolClient): Promise<void> {
  await client.query('DISCARD PLANS');
}

/**
 * The most trades a stale plan of the orders' check (replanForeignKeyChecks) may visit at a
 * sync's COMMIT with the plans kept: a few ms. Under it, a DISCARD (a statement of its own, and
 * every plan of the connection made again) costs about as much as the worst such plan would.
 */
const STALE_CHECK_ROWS = 50_000;

/** Whether a stale plan of the orders' check could cost this sync's COMMIT more than STALE_CHECK_ROWS. */
function staleCheckCouldCost(written: ReadCounts): boolean {
  const trades = written.trades.inserted + written.trades.updated + written.trades.unchanged;
  // Such a plan walks the bot's trades for each order inserted: a big bot's few orders, or many orders.
  return written.orders.inserted > 0 && written.orders.inserted * Math.max(1, trades) > STALE_CHECK_ROWS;
}

/** The bot's config facts and status; a bad config is a warning naming its file, never a failed sync. */
async function readProfile(ctx: BotSyncContext, instance: string, file: string): Promise<BotProfile> {
  const { facts, warning } = await readBotConfig(instanceDir(ctx.config, instance));
  if (warning !== undefined) {
    ctx.logger.warn(warning, { bot: instance });
    await ctx.log(`bot ${instance}: warning: ${warning}`);
  }
  return { ...facts, status: await botStatus(file) };
}

async function recordFailure(ctx: BotSyncContext, instance: string, message: string): Promise<void> {
  await writeSyncFailure(ctx.pg, instance, message).catch((error: unknown) => {
    ctx.logger.warn('could not record a bot-sync failure', { bot: instance, error: errorMessage(error) });
  });
}

/** What `--accept-reset=` does in bot-sync, for the refusal's message. */
const ACCEPT_CHOICES = [
  { value: 'archive', meaning: 'keeps the old rows as an archived epoch of the bot: trades_archive, orders_archive' },
  { value: 'delete', meaning: 'deletes them' },
] as const;

/** Bumped when the mapping changes, so every bot is read again after such an upgrade (2: the bot's other tables). */
const MAPPING_VERSION = 2;

/** The file's fingerprint under this mapping; null when it cannot be trusted (the rows are read). */
async function sourceFingerprint(file: string): Promise<string | null> {
  const fingerprint = await fingerprintBotDatabase(file);
  return fingerprint === undefined ? null : `v${MAPPING_VERSION}|${fingerprint}`;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
