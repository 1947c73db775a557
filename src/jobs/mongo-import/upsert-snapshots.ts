import type pg from 'pg';
import type { Item, Reject, UpsertOutcome } from './import-types.js';
import type { SnapshotRow } from './map-snapshot.js';

/**
 * One statement per batch: resolve each snapshot's user (by firebase uid, else by the user's
 * Mongo _id), update the snapshots whose values differ, insert the new ones, and name the
 * snapshots whose user is unknown (they become rejects, never rows with a NULL user).
 */
const UPSERT_SNAPSHOTS = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::jsonb[], $7::text[], $8::timestamptz[])
    AS t(mongo_id, user_ref, total_value, cash_balance, positions_value, data, timeframe, recorded_at)
),
resolved AS (
  SELECT i.*, coalesce(f.id, m.id) AS user_id
  FROM input i
  LEFT JOIN users f ON f.firebase_uid = i.user_ref
  LEFT JOIN users m ON m.mongo_id = i.user_ref
),
updated AS (
  UPDATE portfolio_snapshots s SET user_id = r.user_id, total_value = r.total_value, cash_balance = r.cash_balance,
    positions_value = r.positions_value, data = r.data, timeframe = r.timeframe, recorded_at = r.recorded_at, imported_at = now()
  FROM resolved r
  WHERE s.mongo_id = r.mongo_id AND r.user_id IS NOT NULL
    AND (s.user_id, s.total_value, s.cash_balance, s.positions_value, s.data, s.timeframe, s.recorded_at)
      IS DISTINCT FROM (r.user_id, r.total_value, r.cash_balance, r.positions_value, r.data, r.timeframe, r.recorded_at)
  RETURNING s.mongo_id
),
inserted AS (
  INSERT INTO portfolio_snapshots (mongo_id, user_id, total_value, cash_balance, positions_value, data, timeframe, recorded_at)
  SELECT mongo_id, user_id, total_value, cash_balance, positions_value, data, timeframe, recorded_at
  FROM resolved r
  WHERE r.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM portfolio_snapshots s WHERE s.mongo_id = r.mongo_id)
  ON CONFLICT (mongo_id) DO NOTHING
  RETURNING mongo_id
)
SELECT (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM inserted)::int AS inserted,
  coalesce((SELECT array_agg(mongo_id) FROM resolved WHERE user_id IS NULL), '{}') AS orphans`;

export async function upsertSnapshots(client: pg.ClientBase, items: readonly Item<SnapshotRow>[]): Promise<UpsertOutcome> {
  const latest = new Map<string, Item<SnapshotRow>>();
  for (const item of items) latest.set(item.row.mongoId, item); // a later copy of one _id wins
  const rows = [...latest.values()].map((item) => item.row);
  const result = await client.query<{ updated: number; inserted: number; orphans: string[] }>(UPSERT_SNAPSHOTS, [
    rows.map((r) => r.mongoId),
    rows.map((r) => r.userRef),
    rows.map((r) => r.totalValue),
    rows.map((r) => r.cashBalance),
    rows.map((r) => r.positionsValue),
    rows.map((r) => r.data),
    rows.map((r) => r.timeframe),
    rows.map((r) => r.recordedAt),
  ]);
  const { updated, inserted, orphans } = result.rows[0]!;
  const rejects: Reject[] = orphans.map((mongoId) => {
    const item = latest.get(mongoId)!;
    return { position: item.position, reason: `snapshot _id ${mongoId}: no user with firebase uid or _id ${item.row.userRef}`, raw: item.raw() };
  });
  return { updated, inserted, rejects };
}
