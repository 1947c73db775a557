import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Item, Reject, UpsertOutcome } from '../write-batch.js';
import { idKey, showId } from '../mongo-values/bson-values.js';
import type { SnapshotRow } from './map-snapshot.js';

/**
 * The batch goes in by COPY into a session temp table, emptied at each commit and truncated
 * before each batch (a batch retried row by row under savepoints must not see its earlier
 * rows). JIT is off for the batch: the temp table has no statistics, its row estimate makes
 * the statement look costly enough to compile, and compiling took longer than running it.
 */
const INPUT = 'mongo_import_snapshot_input';
const PREPARE = `
CREATE TEMP TABLE IF NOT EXISTS ${INPUT} (mongo_id text, mongo_id_type text, user_ref text, user_ref_type text, total_value numeric, cash_balance numeric,
  positions_value numeric, data jsonb, timeframe text, recorded_at timestamptz) ON COMMIT DELETE ROWS;
TRUNCATE ${INPUT};
SET LOCAL jit = off`;

/**
 * The users.id a snapshot's owner reference names: the user with that firebase uid (a string
 * reference), else the user whose Mongo _id it is, of its own type. Verify resolves owners with it too.
 */
export const snapshotOwnerSql = (ref: string, refType: string): string =>
  `coalesce((SELECT id FROM users WHERE firebase_uid = ${ref} AND ${refType} = 'string'),
      (SELECT id FROM users WHERE mongo_id = ${ref} AND mongo_id_type = ${refType}))`;

/**
 * One statement per batch: resolve each snapshot's user (by firebase uid, else by the user's
 * Mongo _id), insert the new snapshots and update those whose values differ, and name the
 * snapshots whose user is unknown (they become rejects, never rows with a NULL user).
 * Lookups are scalar subqueries so every plan probes the unique indexes whatever the
 * statistics say (joins were planned as hash joins over all users, and an EXISTS as a hash of
 * every snapshot: a full scan per batch).
 * `existing` counts the rows there before the statement (same snapshot): those written among
 * them were updated, the others inserted.
 */
const UPSERT_SNAPSHOTS = `
WITH resolved AS MATERIALIZED (
  SELECT i.*, ${snapshotOwnerSql('i.user_ref', 'i.user_ref_type')} AS user_id,
    (SELECT true FROM portfolio_snapshots s WHERE s.mongo_id = i.mongo_id AND s.mongo_id_type = i.mongo_id_type) IS NOT NULL AS existed
  FROM ${INPUT} i
),
written AS (
  INSERT INTO portfolio_snapshots AS s (mongo_id, mongo_id_type, user_id, total_value, cash_balance, positions_value, data,
    timeframe, recorded_at)
  SELECT mongo_id, mongo_id_type, user_id, total_value, cash_balance, positions_value, data, timeframe, recorded_at
  FROM resolved r
  WHERE r.user_id IS NOT NULL
  ON CONFLICT (mongo_id, mongo_id_type) DO UPDATE SET user_id = EXCLUDED.user_id, total_value = EXCLUDED.total_value,
    cash_balance = EXCLUDED.cash_balance, positions_value = EXCLUDED.positions_value, data = EXCLUDED.data,
    timeframe = EXCLUDED.timeframe, recorded_at = EXCLUDED.recorded_at, imported_at = now()
  WHERE (s.user_id, s.total_value, s.cash_balance, s.positions_value, s.data, s.timeframe, s.recorded_at)
    IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.total_value, EXCLUDED.cash_balance, EXCLUDED.positions_value,
      EXCLUDED.data, EXCLUDED.timeframe, EXCLUDED.recorded_at)
  RETURNING s.mongo_id
)
SELECT (SELECT count(*) FROM written)::int AS written,
  (SELECT count(*) FROM resolved WHERE user_id IS NOT NULL AND NOT existed)::int AS inserted,
  coalesce((SELECT array_agg(mongo_id_type || ':' || mongo_id) FROM resolved WHERE user_id IS NULL), '{}') AS orphans`;

export async function upsertSnapshots(
  client: pg.ClientBase,
  items: readonly Item<SnapshotRow>[],
): Promise<UpsertOutcome> {
  const latest = new Map<string, Item<SnapshotRow>>();
  for (const item of items) latest.set(idKey(item.row.id), item); // a later copy of one _id wins
  await client.query(PREPARE);
  await copyRows(client, latest.values());
  const result = await client.query<{ written: number; inserted: number; orphans: string[] }>(UPSERT_SNAPSHOTS);
  const { written, inserted, orphans } = result.rows[0]!;
  const rejects: Reject[] = orphans.map((key) => {
    const item = latest.get(key)!;
    const ref = item.row.userRef;
    const wanted = ref.type === 'string' ? `firebase uid or _id ${ref.text}` : `_id ${ref.text}`;
    return {
      position: item.position,
      // The type is named: a reference finds only an _id of its own type ("3" is not 3).
      reason: `snapshot _id ${showId(item.row.id)}: no user with ${wanted} (${ref.type})`,
      raw: item.raw(),
    };
  });
  return { updated: written - inserted, inserted, rejects };
}

/** COPY text format: a row per line, tab-separated, \N for NULL, backslash escapes. */
async function copyRows(client: pg.ClientBase, items: Iterable<Item<SnapshotRow>>): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${INPUT} FROM STDIN`));
  const done = Promise.race([
    once(stream, 'finish'),
    once(stream, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  done.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  let chunk = '';
  for (const { row: r } of items) {
    chunk +=
      `${field(r.id.text)}\t${r.id.type}\t${field(r.userRef.text)}\t${r.userRef.type}\t${field(r.totalValue)}\t${field(r.cashBalance)}\t${field(r.positionsValue)}\t` +
      `${field(r.data)}\t${field(r.timeframe)}\t${field(r.recordedAt)}\n`;
    if (chunk.length >= 1 << 16) {
      stream.write(chunk);
      chunk = '';
    }
  }
  stream.end(chunk);
  await done;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function field(value: string | null): string {
  if (value === null) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : value;
}
