import type { Pool, PoolClient } from 'pg';
import type { Config } from '../config.js';
import { PermanentJobError } from '../errors.js';

type Queryable = Pool | PoolClient;

/**
 * Which host holds a bot (BOT_DISCOVERY=hosts), from what each host's discovery finds. Each host
 * records its claims (bot_host_claims) and when its last pass ran (discovery_hosts). A bot one
 * host finds is that host's. A bot two hosts find is a CONFLICT, once each host has run a pass
 * since the other's copy appeared (a bot that moved is found by its new host before its old host
 * notices it gone: that short overlap follows the newest finder, as a move should), and while
 * both hosts' passes are fresh (a host whose workers stopped no longer counts). Neither copy of a
 * conflicted bot is synced or pushed until one copy goes away or an operator assigns the bot to
 * a host (bot_assignments): the other hosts' copies are then ignored.
 */

/** How recent a host's last discovery pass must be for its claims to count against another host's. */
export function discoveryFreshnessSeconds(config: Pick<Config, 'DISCOVERY_INTERVAL'>): number {
  return Math.max(3 * config.DISCOVERY_INTERVAL, 10_000) / 1000;
}

/**
 * The claims that count ($1: freshness in seconds; $2: one bot's, or null for all): with an assignment only the assigned host's;
 * of several, only those of hosts whose last pass is fresh.
 */
const COUNTED_CLAIMS = `
  counted AS (
    SELECT c.instance_id, c.host, c.db_path, c.turso_push, c.found_at, d.last_pass_at,
           d.last_pass_at >= now() - make_interval(secs => $1) AS fresh,
           count(*) OVER (PARTITION BY c.instance_id) AS claims
    FROM bot_host_claims c JOIN discovery_hosts d ON d.host = c.host
    LEFT JOIN bot_assignments a ON a.instance_id = c.instance_id
    WHERE (a.host IS NULL OR a.host = c.host) AND ($2::text IS NULL OR c.instance_id = $2)),
  live AS (SELECT * FROM counted WHERE claims = 1 OR fresh),
  conflicted AS (
    SELECT DISTINCT x.instance_id FROM live x JOIN live y
      ON y.instance_id = x.instance_id AND y.host <> x.host
     AND x.last_pass_at >= y.found_at AND y.last_pass_at >= x.found_at)`;

/** One host's discovery pass: records the bots it found (and forgets those it no longer has), then settles hosts. */
export async function recordHostClaims(
  db: Queryable,
  host: string,
  bots: ReadonlyArray<{ name: string; dbPath: string; tursoPush: boolean }>,
  pass: { startedAt: Date; freshnessSeconds: number },
): Promise<string[]> {
  const names = bots.map((b) => b.name);
  // The pass counts from when its scan began: a copy another host found after that is one this
  // pass could not have seen gone (a bot moving), never a conflict.
  await db.query(
    `INSERT INTO discovery_hosts (host, last_pass_at) VALUES ($1, $2)
     ON CONFLICT (host) DO UPDATE SET last_pass_at = greatest(discovery_hosts.last_pass_at, EXCLUDED.last_pass_at)`,
    [host, pass.startedAt],
  );
  await db.query('DELETE FROM bot_host_claims WHERE host = $1 AND NOT (instance_id = ANY($2::text[]))', [host, names]);
  if (bots.length > 0) {
    await db.query(
      `INSERT INTO bot_host_claims (instance_id, host, db_path, turso_push)
       SELECT t.name, $3, t.db_path, t.turso_push FROM unnest($1::text[], $2::text[], $4::boolean[]) AS t(name, db_path, turso_push)
       ON CONFLICT (instance_id, host) DO UPDATE SET db_path = EXCLUDED.db_path, turso_push = EXCLUDED.turso_push
       WHERE bot_host_claims.db_path IS DISTINCT FROM EXCLUDED.db_path OR bot_host_claims.turso_push IS DISTINCT FROM EXCLUDED.turso_push`,
      [names, bots.map((b) => b.dbPath), host, bots.map((b) => b.tursoPush)],
    );
  }
  return settleHosts(db, pass.freshnessSeconds);
}

/**
 * Settles every bot's host in `bots` from the claims: its one live claim, or the newest; none
 * while it is conflicted. Bots no host claims any more are marked missing, and returned.
 */
export async function settleHosts(db: Queryable, freshnessSeconds: number): Promise<string[]> {
  // Rows are only rewritten when something changed (or once an hour, for last_seen_at).
  await db.query(
    `WITH ${COUNTED_CLAIMS},
     owners AS (
       SELECT DISTINCT ON (l.instance_id) l.instance_id,
              CASE WHEN k.instance_id IS NULL THEN l.host END AS host, l.db_path, l.turso_push
       FROM live l LEFT JOIN conflicted k ON k.instance_id = l.instance_id
       ORDER BY l.instance_id, l.found_at DESC, l.host)
     INSERT INTO bots (instance_id, name, db_path, host, turso_push, discovered_at, last_seen_at)
     SELECT instance_id, instance_id, db_path, host, turso_push, now(), now() FROM owners
     ON CONFLICT (instance_id) DO UPDATE
       SET db_path = EXCLUDED.db_path, host = EXCLUDED.host, turso_push = EXCLUDED.turso_push,
           last_seen_at = now(), missing_since = NULL, updated_at = now()
       WHERE bots.db_path IS DISTINCT FROM EXCLUDED.db_path OR bots.host IS DISTINCT FROM EXCLUDED.host
          OR bots.turso_push IS DISTINCT FROM EXCLUDED.turso_push OR bots.missing_since IS NOT NULL
          OR bots.last_seen_at IS NULL OR bots.last_seen_at < now() - interval '1 hour'`,
    [freshnessSeconds, null],
  );
  const missing = await db.query<{ instance_id: string }>(
    `UPDATE bots SET missing_since = now(), updated_at = now()
     WHERE host IS NOT NULL AND missing_since IS NULL
       AND NOT EXISTS (SELECT 1 FROM bot_host_claims c WHERE c.instance_id = bots.instance_id)
     RETURNING instance_id`,
  );
  return missing.rows.map((r) => r.instance_id).sort();
}

export interface BotConflict {
  instance: string;
  /** Each host that finds the bot, with the folder it finds it in. */
  copies: Array<{ host: string; dbPath: string }>;
}

/** Bots two hosts claim (all of them, or `instance` alone), with each host and folder. */
export async function botConflicts(db: Queryable, freshnessSeconds: number, instance?: string): Promise<BotConflict[]> {
  const result = await db.query<{ instance_id: string; host: string; db_path: string }>(
    `WITH ${COUNTED_CLAIMS}
     SELECT l.instance_id, l.host, l.db_path FROM live l JOIN conflicted k ON k.instance_id = l.instance_id
     ORDER BY l.instance_id, l.host`,
    [freshnessSeconds, instance ?? null],
  );
  const conflicts = new Map<string, BotConflict>();
  for (const row of result.rows) {
    const conflict = conflicts.get(row.instance_id) ?? { instance: row.instance_id, copies: [] };
    conflict.copies.push({ host: row.host, dbPath: row.db_path });
    conflicts.set(row.instance_id, conflict);
  }
  return [...conflicts.values()];
}

/** What a conflict says, wherever it is refused: both hosts and folders, and the two ways out. */
export function conflictMessage(conflict: BotConflict): string {
  const copies = conflict.copies.map((c) => `${c.host} (${c.dbPath})`).join(' and ');
  return (
    `bot ${conflict.instance} is claimed by several hosts: ${copies}. Neither copy is synced or pushed: ` +
    `remove the copy that is not the live bot, or name the owner with \`ctp-etl bots assign --bot ${conflict.instance} --host <host>\``
  );
}

/** A job of a conflicted bot, or of a host whose copy is not the bot's: permanent, a retry finds the same. */
export class BotConflictError extends PermanentJobError {
  constructor(message: string) {
    super(message);
    this.name = 'BotConflictError';
  }
}

/**
 * A worker's check before it reads a bot's folder (BOT_DISCOVERY=hosts): this host must be the
 * one the bots table says holds the bot (or none yet). Otherwise the job is refused, naming why:
 * a conflict (both hosts and folders), an assignment to another host, or another host holding it now.
 */
export async function assertHostHoldsBot(
  db: Queryable,
  config: Pick<Config, 'DISCOVERY_INTERVAL' | 'WORKER_HOST'>,
  instance: string,
): Promise<void> {
  const { rows } = await db.query<{ host: string | null; assigned: string | null }>(
    `SELECT b.host, a.host AS assigned FROM bots b LEFT JOIN bot_assignments a ON a.instance_id = b.instance_id
     WHERE b.instance_id = $1`,
    [instance],
  );
  const here = config.WORKER_HOST;
  const row = rows[0];
  if (row?.host === here) return;
  const [conflict] = await botConflicts(db, discoveryFreshnessSeconds(config), instance);
  if (conflict !== undefined) throw new BotConflictError(conflictMessage(conflict));
  if (row?.assigned != null && row.assigned !== here) {
    throw new BotConflictError(
      `bot ${instance} is assigned to host ${row.assigned} (\`ctp-etl bots assign\`): the copy on host ${here ?? '-'} is ignored`,
    );
  }
  // Not settled yet (found by this host's watcher before its discovery pass): this host has it.
  if (row?.host == null) return;
  throw new BotConflictError(
    `bot ${instance} is held by host ${row.host}, not by this host (${here ?? '-'}); nothing done`,
  );
}

export interface BotAssignment {
  instance: string;
  host: string;
  assignedBy: string;
  assignedAt: Date;
  /** The other hosts' copies, which are ignored. */
  ignored: Array<{ host: string; dbPath: string }>;
}

/** The operator's choice of owner: recorded with who and when; `settleHosts` then applies it. */
export async function assignBot(db: Queryable, instance: string, host: string, by: string): Promise<void> {
  await db.query(
    `INSERT INTO bot_assignments (instance_id, host, assigned_by, assigned_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (instance_id) DO UPDATE SET host = EXCLUDED.host, assigned_by = EXCLUDED.assigned_by, assigned_at = now()`,
    [instance, host, by],
  );
}

/** Removes a bot's assignment; false when it had none. */
export async function clearAssignment(db: Queryable, instance: string): Promise<boolean> {
  const result = await db.query('DELETE FROM bot_assignments WHERE instance_id = $1', [instance]);
  return (result.rowCount ?? 0) > 0;
}

/** Every assignment, with the copies it makes ignored. */
export async function botAssignments(db: Queryable): Promise<BotAssignment[]> {
  const { rows } = await db.query<{
    instance_id: string;
    host: string;
    assigned_by: string;
    assigned_at: Date;
    ignored: Array<{ host: string; dbPath: string }>;
  }>(
    `SELECT a.instance_id, a.host, a.assigned_by, a.assigned_at,
       coalesce(json_agg(json_build_object('host', c.host, 'dbPath', c.db_path) ORDER BY c.host)
                FILTER (WHERE c.host IS NOT NULL), '[]') AS ignored
     FROM bot_assignments a LEFT JOIN bot_host_claims c ON c.instance_id = a.instance_id AND c.host <> a.host
     GROUP BY a.instance_id, a.host, a.assigned_by, a.assigned_at ORDER BY a.instance_id`,
  );
  return rows.map((r) => ({
    instance: r.instance_id,
    host: r.host,
    assignedBy: r.assigned_by,
    assignedAt: r.assigned_at,
    ignored: r.ignored,
  }));
}

/** The hosts that find a bot now, with their folders (for `bots assign` to check the host it is given). */
export async function claimsOf(db: Queryable, instance: string): Promise<Array<{ host: string; dbPath: string }>> {
  const { rows } = await db.query<{ host: string; db_path: string }>(
    'SELECT host, db_path FROM bot_host_claims WHERE instance_id = $1 ORDER BY host',
    [instance],
  );
  return rows.map((r) => ({ host: r.host, dbPath: r.db_path }));
}
