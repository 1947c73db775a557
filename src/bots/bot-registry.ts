import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

/**
 * Registers a bot (or refreshes where its database is) and returns its id. An upsert on
 * instance_id, so a bot is never registered twice and trades never get a NULL bot. A bot
 * registered as it is is not written again (but once an hour, for last_seen_at): every sync
 * calls this, and a write here would be a commit of its own.
 */
export async function registerBot(db: Queryable, instance: string, dbPath: string): Promise<string> {
  const result = await db.query<{ id: string }>(
    `WITH current AS (
       SELECT id FROM bots WHERE instance_id = $1 AND db_path = $2 AND missing_since IS NULL
         AND last_seen_at >= now() - interval '1 hour'),
     registered AS (
       INSERT INTO bots (instance_id, name, db_path, discovered_at, last_seen_at)
       SELECT $1, $1, $2, now(), now() WHERE NOT EXISTS (SELECT 1 FROM current)
       ON CONFLICT (instance_id) DO UPDATE
         SET db_path = EXCLUDED.db_path, last_seen_at = now(), missing_since = NULL,
             updated_at = CASE WHEN bots.db_path IS DISTINCT FROM EXCLUDED.db_path OR bots.missing_since IS NOT NULL THEN now() ELSE bots.updated_at END
       RETURNING id)
     SELECT id FROM current UNION ALL SELECT id FROM registered`,
    [instance, dbPath],
  );
  const row = result.rows[0];
  if (!row) throw new Error(`registering bot ${instance} returned no row`);
  return row.id;
}

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
