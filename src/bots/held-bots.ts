import { stat } from 'node:fs/promises';
import type { Pool, PoolClient } from 'pg';
import type { Config } from '../config.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { syncConfigPath, SyncConfigError } from './sync-config.js';
import { BotDatabaseFileError, botDatabaseIdentity } from './bot-database-file.js';
import { findBotDatabase } from './bot-instances.js';
import { assertHostHoldsBot, botConflicts, conflictMessage, discoveryFreshnessSeconds } from './host-claims.js';
import { ResetSuspectedError } from './reset-guard.js';

type Queryable = Pool | PoolClient;

/**
 * A held bot: one whose job was refused for a reason a retry cannot clear and only a new file or
 * an operator can (a replaced database, a corrupt or unreadable file, a bad sync-config.json). The
 * refusal is recorded once (bot_holds, per bot and job, with the identity of the file it was
 * refused for), and the watcher and the scheduler enqueue nothing more for it until that file
 * changes or the job succeeds (`--accept-reset`, a fixed file): a bot trading under a refusal
 * would otherwise fill Redis with one failed job per write. A bot two hosts claim is held too
 * (host-claims.ts), for as long as the conflict lasts.
 */

/** The jobs a hold stops. */
export type HeldJob = 'bot-sync' | 'turso-push';

export type HoldReason = 'reset' | 'bad-file' | 'sync-config' | 'conflict';

export interface BotHold {
  instance: string;
  job: HeldJob;
  reason: HoldReason;
  message: string;
  /** The file the job was refused for (both folders, for a conflict). */
  file: string;
  heldAt: Date | null;
}

/** A file's stamp for a hold: `identity` (device and inode, for a replaced database) or any change to it. */
async function stampOf(file: string, what: 'identity' | 'contents'): Promise<string> {
  if (what === 'identity') return (await botDatabaseIdentity(file)) ?? 'gone';
  const info = await stat(file, { bigint: true }).catch(() => undefined);
  return info === undefined ? 'gone' : `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

/** The refusals that hold a bot, with the file each one is about and what of it must change. */
async function holdOf(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  instance: string,
  error: unknown,
): Promise<{ reason: HoldReason; file: string; stamp: 'identity' | 'contents' } | undefined> {
  if (error instanceof SyncConfigError)
    return { reason: 'sync-config', file: syncConfigPath(config, instance), stamp: 'contents' };
  const isReset = error instanceof ResetSuspectedError;
  const isBadFile =
    error instanceof BotDatabaseFileError && ['corrupt', 'not-a-database', 'unreadable'].includes(error.problem);
  if (!isReset && !isBadFile) return undefined;
  const file = await findBotDatabase(config, instance).catch(() => undefined);
  if (file === undefined) return undefined;
  // A reset file keeps trading (its contents change on every write): only another file clears it.
  return { reason: isReset ? 'reset' : 'bad-file', file, stamp: isReset ? 'identity' : 'contents' };
}

/** Records the hold a failed job's error calls for (none for an error a retry or a new run may clear). */
export async function holdIfRefused(
  db: Queryable,
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  instance: string,
  job: HeldJob,
  error: unknown,
): Promise<void> {
  const hold = await holdOf(config, instance, error);
  if (hold === undefined) return;
  await db.query(
    `INSERT INTO bot_holds (instance_id, job, reason, message, file, file_stamp, held_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (instance_id, job) DO UPDATE SET reason = EXCLUDED.reason, message = EXCLUDED.message,
       file = EXCLUDED.file, file_stamp = EXCLUDED.file_stamp, held_at = now()`,
    [
      instance,
      job,
      hold.reason,
      errorMessage(error).slice(0, 4000),
      hold.file,
      `${hold.stamp}|${await stampOf(hold.file, hold.stamp)}`,
    ],
  );
}

/** A job of the bot succeeded: whatever held it is over. */
export async function releaseHold(db: Queryable, instance: string, job: HeldJob): Promise<void> {
  await db.query('DELETE FROM bot_holds WHERE instance_id = $1 AND job = $2', [instance, job]);
}

/**
 * The bots' jobs still held, releasing those whose file changed since (a new file gets its
 * chance). `instances` limits it to those bots (the watcher's one bot, a host's own bots);
 * `checkFiles: false` is for a process that cannot see the files (the scheduler with hosts,
 * whose hosts' discovery passes release them).
 */
export async function heldJobs(
  db: Queryable,
  instances?: readonly string[],
  checkFiles = true,
): Promise<Map<string, Set<HeldJob>>> {
  const { rows } = await db.query<{ instance_id: string; job: HeldJob; file: string; file_stamp: string }>(
    `SELECT instance_id, job, file, file_stamp FROM bot_holds
     WHERE $1::text[] IS NULL OR instance_id = ANY($1::text[])`,
    [instances ?? null],
  );
  const held = new Map<string, Set<HeldJob>>();
  for (const row of rows) {
    const [what, recorded] = splitStamp(row.file_stamp);
    if (checkFiles && (await stampOf(row.file, what)) !== recorded) {
      // Only if it is still the hold that was read: a job may have recorded a newer one meanwhile.
      await db.query('DELETE FROM bot_holds WHERE instance_id = $1 AND job = $2 AND file_stamp = $3', [
        row.instance_id,
        row.job,
        row.file_stamp,
      ]);
      continue;
    }
    const jobs = held.get(row.instance_id) ?? new Set<HeldJob>();
    jobs.add(row.job);
    held.set(row.instance_id, jobs);
  }
  return held;
}

function splitStamp(stamp: string): ['identity' | 'contents', string] {
  const at = stamp.indexOf('|');
  return [stamp.slice(0, at) === 'identity' ? 'identity' : 'contents', stamp.slice(at + 1)];
}

/** Every held bot, for status and metrics: the recorded refusals and the conflicts of BOT_DISCOVERY=hosts. */
export async function heldBots(
  db: Queryable,
  config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL'>,
): Promise<BotHold[]> {
  const { rows } = await db.query<{
    instance_id: string;
    job: HeldJob;
    reason: HoldReason;
    message: string;
    file: string;
    held_at: Date;
  }>('SELECT instance_id, job, reason, message, file, held_at FROM bot_holds ORDER BY instance_id, job');
  const holds: BotHold[] = rows.map((r) => ({
    instance: r.instance_id,
    job: r.job,
    reason: r.reason,
    message: r.message,
    file: r.file,
    heldAt: r.held_at,
  }));
  if (config.BOT_DISCOVERY === 'hosts') {
    for (const conflict of await botConflicts(db, discoveryFreshnessSeconds(config))) {
      for (const job of ['bot-sync', 'turso-push'] as const) {
        holds.push({
          instance: conflict.instance,
          job,
          reason: 'conflict',
          message: conflictMessage(conflict),
          file: conflict.copies.map((c) => `${c.host}:${c.dbPath}`).join(' '),
          heldAt: null,
        });
      }
    }
  }
  return holds.sort((a, b) => a.instance.localeCompare(b.instance) || a.job.localeCompare(b.job));
}

/**
 * How a worker runs a job that reads a bot's folder (bot-sync, turso-push): with hosts, only on
 * the host that holds the bot (a conflicted bot's jobs fail for good, naming both copies); a
 * refusal that holds the bot is recorded, and a success releases it (`releasedByRun`: the job's
 * own commit did, as bot-sync's does, so no statement is sent here). A dry run holds nothing.
 */
export async function guardBotJob<T>(
  ctx: {
    pg: Pool;
    config: Pick<
      Config,
      'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES' | 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL' | 'WORKER_HOST'
    >;
    logger: Logger;
  },
  target: { job: HeldJob; instance: string; dryRun?: boolean; releasedByRun?: boolean },
  run: () => Promise<T>,
): Promise<T> {
  const { pg, config, logger } = ctx;
  const { job, instance } = target;
  if (config.BOT_DISCOVERY === 'hosts' && config.WORKER_HOST !== undefined)
    await assertHostHoldsBot(pg, config, instance);
  if (target.dryRun) return run();
  // The hold is bookkeeping around the job's own outcome: failing to record it never changes that outcome.
  const bookkeeping = (what: string) => (error: unknown) =>
    logger.warn(`could not ${what} a held bot`, { bot: instance, job, error: errorMessage(error) });
  let result: T;
  try {
    result = await run();
  } catch (error) {
    await holdIfRefused(pg, config, instance, job, error).catch(bookkeeping('record'));
    throw error;
  }
  if (target.releasedByRun !== true) await releaseHold(pg, instance, job).catch(bookkeeping('release'));
  return result;
}

/**
 * The jobs of a bot the watcher of this host must not enqueue: its held ones (a changed file
 * releases them), and both when, with hosts, another host holds it or it is conflicted.
 */
export async function heldJobsOf(
  db: Queryable,
  config: Pick<Config, 'BOT_DISCOVERY' | 'WORKER_HOST' | 'DISCOVERY_INTERVAL'>,
  instance: string,
): Promise<ReadonlySet<HeldJob>> {
  if (config.BOT_DISCOVERY === 'hosts') {
    const { rows } = await db.query<{ host: string | null }>(
      'SELECT host FROM bots WHERE instance_id = $1 AND missing_since IS NULL',
      [instance],
    );
    const host = rows[0]?.host ?? null;
    const elsewhere = host !== null && host !== (config.WORKER_HOST ?? null);
    // No host yet: a conflict, or a bot this host found before its discovery pass settled it.
    const conflicted =
      host === null && (await botConflicts(db, discoveryFreshnessSeconds(config), instance)).length > 0;
    if (elsewhere || conflicted) return new Set(['bot-sync', 'turso-push']);
  }
  return (await heldJobs(db, [instance])).get(instance) ?? new Set();
}
