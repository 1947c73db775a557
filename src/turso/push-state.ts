import { randomUUID } from 'node:crypto';
import type { Client, InStatement } from '@libsql/client';
import type { WindowMemory } from '../bots/change-window.js';
import type { DatesScan } from '../bots/dates-scan.js';
import pgLib, { type PoolClient } from 'pg';
import { releaseSessionLock, tryTakeSessionLock } from '../connections/advisory-locks.js';
import type { PgPool } from '../connections/postgres.js';
import { withTransaction } from '../connections/transaction.js';
import { readTargetMeta, TARGET_META_TABLE } from './target.js';

/** The pool, or a client inside a transaction of several of these writes. */
type Queryable = PgPool | PoolClient;

/**
 * turso-push's state lives in PostgreSQL (every worker sees it) and is trusted only while the
 * target's own push generation equals the recorded one. The generation is written into the
 * target in the same atomic batch as a push's last rows, and into PostgreSQL after that batch
 * committed; before its first write a push clears the recorded generation. So a push killed
 * anywhere, state from another bot or target, or state edited or lost costs a compare with the
 * target, never a skipped row.
 */

const GENERATION_KEY = 'turso_push_generation';

export interface PushRecord {
  target: string;
  /** Null while a push may have written without recording it. */
  generation: string | null;
  sourceFingerprint: string | null;
  /** The file's identity (device and inode) at the last push. */
  sourceIdentity: string | null;
  /** What the next push's change windows start from (bots/change-window.ts). */
  window: WindowMemory;
  /** Per windowed table, the ids of the rows open at the last push. */
  openKeys: Record<string, number[]>;
  /** The last push that scanned the rows' dates (migration 024); null before its first. */
  datesScan: DatesScan;
}

/** One recorded row: its key (row-values.ts sortKey) and the MD5 of its values. */
interface RecordedRow {
  key: Buffer;
  hash: Buffer;
}

/** A row change to record once the target has committed it (hash undefined: a deletion). */
export interface RecordOp {
  table: string;
  key: Buffer;
  hash: Buffer | undefined;
}

export function newGeneration(): string {
  return randomUUID();
}

export function generationStatement(generation: string): InStatement {
  return {
    sql: `INSERT INTO ${TARGET_META_TABLE} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    args: [GENERATION_KEY, generation],
  };
}

/** The generation the target holds, undefined when it has none (new, foreign or older target). */
export async function readTargetGeneration(client: Client): Promise<string | undefined> {
  return readTargetMeta(client, GENERATION_KEY);
}

export async function loadPushRecord(pg: PgPool, instance: string): Promise<PushRecord | undefined> {
  const { rows } = await pg.query<{
    target: string;
    generation: string | null;
    source_fingerprint: string | null;
    source_identity: string | null;
    window_at: Date | null;
    window_high_water: Date | null;
    full_compare_at: Date | null;
    source_schema: string | null;
    open_keys: Record<string, number[]> | null;
    dates_scanned_at: Date | null;
    dates_high_water: Date | null;
  }>(
    `SELECT target, generation, source_fingerprint, source_identity, window_at, window_high_water, full_compare_at,
       source_schema, open_keys, dates_scanned_at, dates_high_water FROM turso_push_targets WHERE instance = $1`,
    [instance],
  );
  const row = rows[0];
  return (
    row && {
      target: row.target,
      generation: row.generation,
      sourceFingerprint: row.source_fingerprint,
      sourceIdentity: row.source_identity,
      window: {
        at: row.window_at,
        highWater: row.window_high_water,
        fullAt: row.full_compare_at,
        schema: row.source_schema,
      },
      openKeys: row.open_keys ?? {},
      datesScan: { at: row.dates_scanned_at, highWater: row.dates_high_water },
    }
  );
}

/**
 * After a push that ended with the target and the records agreeing: where the next push's windows
 * start. Written in the transaction that commits the generation: a push that dies before leaves
 * the older, wider window (and untrusted records).
 */
export async function recordWindow(
  pg: Queryable,
  instance: string,
  state: {
    window: WindowMemory;
    openKeys: Record<string, number[]>;
    identity: string | undefined;
    datesScan: DatesScan;
  },
): Promise<void> {
  const w = state.window;
  await pg.query(
    `UPDATE turso_push_targets SET window_at = $2, window_high_water = $3, full_compare_at = $4, source_schema = $5,
       open_keys = $6, source_identity = $7, dates_scanned_at = $8, dates_high_water = $9 WHERE instance = $1`,
    [
      instance,
      w.at,
      w.highWater,
      w.fullAt,
      w.schema,
      JSON.stringify(state.openKeys),
      state.identity ?? null,
      state.datesScan.at,
      state.datesScan.highWater,
    ],
  );
}

/** The highest recorded key of each of these tables (absent: none recorded), in one query. */
export async function recordedMaxKeys(
  pg: PgPool,
  instance: string,
  tables: readonly string[],
): Promise<Map<string, Buffer>> {
  if (tables.length === 0) return new Map();
  const { rows } = await pg.query<{ table_name: string; row_key: Buffer | null }>(
    `SELECT t.table_name, (SELECT row_key FROM turso_push_rows r WHERE r.instance = $1 AND r.table_name = t.table_name
       ORDER BY row_key DESC LIMIT 1) AS row_key
     FROM unnest($2::text[]) AS t(table_name)`,
    [instance, tables],
  );
  return new Map(rows.filter((r) => r.row_key !== null).map((r) => [r.table_name, r.row_key!]));
}

/** The recorded rows of a table with these keys, in key order. */
export async function recordedRowsOf(
  pg: PgPool,
  instance: string,
  table: string,
  keys: readonly Buffer[],
): Promise<RecordedRow[]> {
  if (keys.length === 0) return [];
  // One index lookup per key (OFFSET 0 keeps the lookup from becoming a join): as a join, or as
  // `row_key = ANY(...)` in key order, PostgreSQL may read every recorded row of the table.
  const { rows } = await pg.query<{ row_key: Buffer; row_hash: Buffer }>(
    `SELECT r.row_key, r.row_hash FROM unnest($3::bytea[]) AS k(row_key)
     CROSS JOIN LATERAL (SELECT row_key, row_hash FROM turso_push_rows WHERE instance = $1 AND table_name = $2
       AND row_key = k.row_key OFFSET 0) r
     ORDER BY r.row_key`,
    [instance, table, keys],
  );
  return rows.map((row) => ({ key: row.row_key, hash: row.row_hash }));
}

/** Why the recorded rows cannot be trusted for this target, or undefined when they can. */
export function distrust(record: PushRecord | undefined, target: string, targetGeneration: string | undefined) {
  if (record === undefined) return 'no record of a previous push';
  if (record.target !== target) return `the record describes another target (${record.target})`;
  if (record.generation === null) return 'the previous push did not finish recording';
  if (targetGeneration === undefined) return 'the target holds no push generation';
  if (targetGeneration !== record.generation) return 'the target was written by another push than the recorded one';
  return undefined;
}

/** Clears the recorded generation: from here on, until commitGeneration, nothing is trusted. */
export async function markPushPending(pg: PgPool, instance: string, target: string): Promise<void> {
  await pg.query(
    `INSERT INTO turso_push_targets (instance, target, generation) VALUES ($1, $2, NULL)
     ON CONFLICT (instance) DO UPDATE SET target = excluded.target, generation = NULL`,
    [instance, target],
  );
}

/** Drops the recorded rows of these tables (all of the bot's when undefined), before a rebuild. */
export async function forgetRecordedRows(pg: PgPool, instance: string, tables?: readonly string[]): Promise<void> {
  if (tables === undefined) await pg.query('DELETE FROM turso_push_rows WHERE instance = $1', [instance]);
  else if (tables.length > 0)
    await pg.query('DELETE FROM turso_push_rows WHERE instance = $1 AND table_name = ANY($2::text[])', [
      instance,
      tables,
    ]);
}

/** Applies row changes the target committed (or rows a compare found equal) to the records, in one commit. */
export async function recordRows(db: Queryable, instance: string, ops: readonly RecordOp[]): Promise<void> {
  const upserts = ops.filter((op) => op.hash !== undefined);
  const deletes = ops.filter((op) => op.hash === undefined);
  if (deletes.length > 0 && upserts.length > 0 && db instanceof pgLib.Pool)
    return withTransaction(db, (client) => recordRows(client, instance, ops));
  if (deletes.length > 0)
    await db.query(
      `DELETE FROM turso_push_rows r USING unnest($2::text[], $3::bytea[]) AS d(table_name, row_key)
       WHERE r.instance = $1 AND r.table_name = d.table_name AND r.row_key = d.row_key`,
      [instance, deletes.map((op) => op.table), deletes.map((op) => op.key)],
    );
  if (upserts.length > 0)
    await db.query(
      `INSERT INTO turso_push_rows (instance, table_name, row_key, row_hash)
       SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::bytea[])
       ON CONFLICT (instance, table_name, row_key) DO UPDATE SET row_hash = excluded.row_hash`,
      [instance, upserts.map((op) => op.table), upserts.map((op) => op.key), upserts.map((op) => op.hash!)],
    );
}

/** Recorded rows of one table after `after` (exclusive), in key order. */
export async function recordedPage(
  pg: PgPool,
  instance: string,
  table: string,
  after: Buffer | undefined,
  limit: number,
): Promise<RecordedRow[]> {
  const { rows } = await pg.query<{ row_key: Buffer; row_hash: Buffer }>(
    `SELECT row_key, row_hash FROM turso_push_rows WHERE instance = $1 AND table_name = $2
     ${after === undefined ? '' : 'AND row_key > $4'} ORDER BY row_key LIMIT $3`,
    after === undefined ? [instance, table, limit] : [instance, table, limit, after],
  );
  return rows.map((row) => ({ key: row.row_key, hash: row.row_hash }));
}

export async function recordedCounts(pg: PgPool, instance: string): Promise<Map<string, number>> {
  const { rows } = await pg.query<{ table_name: string; rows: string }>(
    'SELECT table_name, count(*) AS rows FROM turso_push_rows WHERE instance = $1 GROUP BY table_name',
    [instance],
  );
  return new Map(rows.map((row) => [row.table_name, Number(row.rows)]));
}

/** After the target committed `generation` with the last rows: the records are trusted again. */
export async function commitGeneration(
  pg: Queryable,
  instance: string,
  target: string,
  generation: string,
  sourceFingerprint: string | undefined,
): Promise<void> {
  await pg.query(
    `INSERT INTO turso_push_targets (instance, target, generation, source_fingerprint, pushed_at)
     VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (instance) DO UPDATE SET target = excluded.target, generation = excluded.generation,
       source_fingerprint = excluded.source_fingerprint, pushed_at = excluded.pushed_at`,
    [instance, target, generation, sourceFingerprint ?? null],
  );
}

/** A push that wrote nothing still learns the source file's new fingerprint. */
export async function recordFingerprint(
  pg: Queryable,
  instance: string,
  fingerprint: string | undefined,
): Promise<void> {
  await pg.query('UPDATE turso_push_targets SET source_fingerprint = $2 WHERE instance = $1', [
    instance,
    fingerprint ?? null,
  ]);
}

export class PushLockedError extends Error {
  constructor(instance: string) {
    super(`bot ${instance}: another turso-push of this bot is running; this one will retry`);
    this.name = 'PushLockedError';
  }
}

/**
 * Runs `work` holding a PostgreSQL session advisory lock for the bot, so two pushes of one bot
 * never interleave, even on different workers; a crashed worker's session releases it.
 * Busy means a transient failure: the job retries with backoff.
 */
export async function withPushLock<T>(pool: PgPool, instance: string, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    if (!(await tryTakeSessionLock(client, 'turso-push', instance))) throw new PushLockedError(instance);
    try {
      return await work();
    } finally {
      await releaseSessionLock(client, 'turso-push', instance);
    }
  } finally {
    client.release();
  }
}
