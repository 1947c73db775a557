import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Pool, PoolClient } from 'pg';
import type { BotConfigFacts } from './bot-config.js';

type Queryable = Pool | PoolClient;

/**
 * What a bot is doing, as its files show: 'trading' when its database was written within
 * TRADING_WITHIN_MS (FreqTrade writes it as trades and orders open, fill and close), 'idle' when
 * not, 'unknown' when the file's time cannot be read.
 */
export type BotStatus = 'trading' | 'idle' | 'unknown';

export const TRADING_WITHIN_MS = 15 * 60_000;

/** The bot's status from its database file's last write (the file or its WAL, the later). */
export async function botStatus(dbPath: string, now = Date.now()): Promise<BotStatus> {
  const times = await Promise.all(
    [dbPath, `${dbPath}-wal`].map((file) =>
      stat(file).then(
        (info) => info.mtimeMs,
        () => undefined,
      ),
    ),
  );
  const known = times.filter((time): time is number => time !== undefined);
  if (known.length === 0) return 'unknown';
  return now - Math.max(...known) <= TRADING_WITHIN_MS ? 'trading' : 'idle';
}

/**
 * The query for the strategy of a bot's latest synced trade (`botId`: an SQL expression of the
 * bot's id), by open date and then trade id, so that trades opened at the same moment always
 * give the same one: the registry's strategy when the bot's config names none (bot-sync writes
 * it, verify expects it).
 */
export const latestTradeStrategySql = (botId: string): string =>
  `SELECT strategy FROM trades_aggregated WHERE bot_id = ${botId} AND strategy IS NOT NULL
   ORDER BY open_date DESC NULLS LAST, trade_id DESC LIMIT 1`;

/** What the registry records of a bot beyond where it is: its config's facts and its status. */
export interface BotProfile extends BotConfigFacts {
  status: BotStatus;
}

/** A bot's registry row as registerBot left it: its id, and its version (the row's xmin) then. */
export interface Registration {
  id: string;
  version: string;
}

/**
 * Registers a bot (or refreshes where its database is, what its config says, its status) and
 * returns its id and the row's version. An upsert on instance_id, so a bot is never registered
 * twice and trades never get a NULL bot. A bot registered as it is is not written again (but once
 * an hour, for last_seen_at): a sync calls this whenever the bot's facts differ from those this
 * process last registered (RegistryMemory), and a write here would be a commit of its own. What the
 * config does not say is NULL; the name falls back to the instance (the folder's name), and the
 * strategy to the one of its latest trade when the config names none (also when a config that
 * named one no longer does: the row never keeps what the config stopped saying).
 */
export async function registerBot(
  db: Queryable,
  instance: string,
  dbPath: string,
  profile: BotProfile,
): Promise<Registration> {
  const result = await db.query<{ id: string; version: string }>(
    `WITH current AS (
       SELECT id, xmin::text AS version FROM bots WHERE instance_id = $1 AND db_path = $2 AND missing_since IS NULL
         AND last_seen_at >= now() - interval '1 hour'
         AND name IS NOT DISTINCT FROM $3 AND ($4::text IS NULL OR strategy_name IS NOT DISTINCT FROM $4)
         AND trading_pairs IS NOT DISTINCT FROM $5::jsonb AND config IS NOT DISTINCT FROM $6::jsonb
         AND dry_run IS NOT DISTINCT FROM $7 AND status IS NOT DISTINCT FROM $8),
     registered AS (
       INSERT INTO bots (instance_id, name, strategy_name, trading_pairs, config, dry_run, status, db_path, discovered_at, last_seen_at)
       SELECT $1, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $2, now(), now() WHERE NOT EXISTS (SELECT 1 FROM current)
       ON CONFLICT (instance_id) DO UPDATE
         SET db_path = EXCLUDED.db_path, last_seen_at = now(), missing_since = NULL,
             name = EXCLUDED.name,
             strategy_name = COALESCE(EXCLUDED.strategy_name, (${latestTradeStrategySql('bots.id')})),
             trading_pairs = EXCLUDED.trading_pairs, config = EXCLUDED.config, dry_run = EXCLUDED.dry_run,
             status = EXCLUDED.status,
             updated_at = CASE WHEN (bots.db_path, bots.name, bots.trading_pairs, bots.config, bots.dry_run, bots.status)
                                    IS DISTINCT FROM (EXCLUDED.db_path, EXCLUDED.name, EXCLUDED.trading_pairs, EXCLUDED.config, EXCLUDED.dry_run, EXCLUDED.status)
                                 OR (EXCLUDED.strategy_name IS NOT NULL AND bots.strategy_name IS DISTINCT FROM EXCLUDED.strategy_name)
                                 OR bots.missing_since IS NOT NULL THEN now() ELSE bots.updated_at END
       RETURNING id, xmin::text AS version)
     SELECT id, version FROM current UNION ALL SELECT id, version FROM registered`,
    [
      instance,
      dbPath,
      profile.name ?? instance,
      profile.strategy ?? null,
      profile.pairs === undefined ? null : JSON.stringify(profile.pairs),
      profile.config === undefined ? null : JSON.stringify(profile.config),
      profile.dryRun ?? null,
      profile.status,
    ],
  );
  const row = result.rows[0];
  if (!row) throw new Error(`registering bot ${instance} returned no row`);
  return row;
}

/**
 * What this process last registered of each bot (registerBot), so that a sync of a bot whose
 * facts are the same sends no registration: one per pool (each its own database or schema, with
 * its own ids). Another process may have written the row since (discovery marking it missing, a
 * worker that read another config.json), and last_seen_at is due every hour: the sync checks
 * that the row is still the version remembered and fresh (registrationCurrentSql), in the
 * statement that reads its state, and registers the bot again when not.
 */
export class RegistryMemory {
  private static readonly byPool = new WeakMap<object, RegistryMemory>();
  private readonly bots = new Map<string, { facts: string; registration: Registration }>();

  static of(pool: object): RegistryMemory {
    let memory = RegistryMemory.byPool.get(pool);
    if (memory === undefined) RegistryMemory.byPool.set(pool, (memory = new RegistryMemory()));
    return memory;
  }

  /** The registration remembered for these facts of the bot; undefined when they differ (or none is). */
  known(instance: string, dbPath: string, profile: BotProfile): Registration | undefined {
    const remembered = this.bots.get(instance);
    return remembered?.facts === factsKey(dbPath, profile) ? remembered.registration : undefined;
  }

  remember(instance: string, dbPath: string, profile: BotProfile, registration: Registration): void {
    this.bots.set(instance, { facts: factsKey(dbPath, profile), registration });
  }
}

/** The facts registerBot writes, as a short key (a fleet's configs are kilobytes each). */
function factsKey(dbPath: string, profile: BotProfile): string {
  return createHash('sha256')
    .update(JSON.stringify([dbPath, profile]))
    .digest('base64');
}

/**
 * A boolean SQL expression: the bot's row (`botId`, an SQL expression) is still the `version`
 * (an SQL expression of its xmin as text) registerBot left, untouched since, and its last_seen_at
 * not due (registerBot refreshes it once an hour).
 */
export const registrationCurrentSql = (botId: string, version: string): string =>
  `EXISTS (SELECT 1 FROM bots WHERE id = ${botId} AND xmin = ${version}::xid AND last_seen_at >= now() - interval '1 hour')`;

/**
 * Registers every discovered bot in one statement. Rows are only rewritten when something
 * changed (or once an hour, for last_seen_at), so a discovery pass over 10,000 unchanged bots
 * writes almost nothing.
 */
export async function registerBots(
  db: Queryable,
  bots: ReadonlyArray<{ name: string; dbPath: string }>,
): Promise<void> {
  if (bots.length === 0) return;
  await db.query(
    `INSERT INTO bots (instance_id, name, db_path, discovered_at, last_seen_at)
     SELECT t.name, t.name, t.db_path, now(), now() FROM unnest($1::text[], $2::text[]) AS t(name, db_path)
     ON CONFLICT (instance_id) DO UPDATE
       SET db_path = EXCLUDED.db_path, last_seen_at = now(), missing_since = NULL, updated_at = now()
       WHERE bots.db_path IS DISTINCT FROM EXCLUDED.db_path OR bots.missing_since IS NOT NULL
          OR bots.last_seen_at IS NULL OR bots.last_seen_at < now() - interval '1 hour'`,
    [bots.map((b) => b.name), bots.map((b) => b.dbPath)],
  );
}

/** Marks the registered bots not in `present` as missing (once: the first time they are not seen). */
export async function markMissingBots(db: Queryable, present: readonly string[]): Promise<string[]> {
  const result = await db.query<{ instance_id: string }>(
    `UPDATE bots SET missing_since = now(), updated_at = now()
     WHERE missing_since IS NULL AND db_path IS NOT NULL AND NOT (instance_id = ANY($1::text[]))
     RETURNING instance_id`,
    [present],
  );
  return result.rows.map((r) => r.instance_id).sort();
}

/** Instances discovery found and that are not marked missing. */
export async function activeBots(db: Queryable): Promise<string[]> {
  const result = await db.query<{ instance_id: string }>(
    `SELECT instance_id FROM bots WHERE missing_since IS NULL AND db_path IS NOT NULL ORDER BY instance_id`,
  );
  return result.rows.map((r) => r.instance_id);
}

export interface HostedBot {
  instance: string;
  host: string;
  tursoPush: boolean;
}

/** Bots some host's discovery holds and has not marked missing. */
export async function hostedBots(db: Queryable): Promise<HostedBot[]> {
  const result = await db.query<{ instance_id: string; host: string; turso_push: boolean | null }>(
    `SELECT instance_id, host, turso_push FROM bots
     WHERE host IS NOT NULL AND missing_since IS NULL ORDER BY instance_id`,
  );
  return result.rows.map((r) => ({ instance: r.instance_id, host: r.host, tursoPush: r.turso_push === true }));
}

/** The host that holds a bot, or undefined when no host's discovery has found it. */
export async function hostOfBot(db: Queryable, instance: string): Promise<string | undefined> {
  const result = await db.query<{ host: string | null }>(
    'SELECT host FROM bots WHERE instance_id = $1 AND missing_since IS NULL',
    [instance],
  );
  return result.rows[0]?.host ?? undefined;
}

/** Every host with bots, for the queues an operator's view should show. */
export async function botHosts(db: Queryable): Promise<string[]> {
  const result = await db.query<{ host: string }>(
    'SELECT DISTINCT host FROM bots WHERE host IS NOT NULL ORDER BY host',
  );
  return result.rows.map((r) => r.host);
}
