import type { Pool, PoolClient } from 'pg';
import type { WindowMemory } from '../../bots/change-window.js';

export interface StoredSyncState {
  sourceFingerprint: string | null;
  /** The file's identity at the last good sync (null before migration 004's first sync). */
  sourceIdentity: string | null;
  tradesCount: number;
  ordersCount: number;
  /** What the next run's change window starts from (migration 010). */
  window: WindowMemory;
}

export async function readSyncState(client: PoolClient, botId: string): Promise<StoredSyncState | undefined> {
  const result = await client.query<{
    source_fingerprint: string | null;
    source_identity: string | null;
    trades_count: number;
    orders_count: number;
    window_at: Date | null;
    window_high_water: Date | null;
    full_compare_at: Date | null;
    source_schema: string | null;
  }>(
    `SELECT source_fingerprint, source_identity, trades_count, orders_count, window_at, window_high_water, full_compare_at, source_schema
     FROM bot_sync_state WHERE bot_id = $1`,
    [botId],
  );
  const row = result.rows[0];
  return row
    ? {
        sourceFingerprint: row.source_fingerprint,
        sourceIdentity: row.source_identity,
        tradesCount: row.trades_count,
        ordersCount: row.orders_count,
        window: {
          at: row.window_at,
          highWater: row.window_high_water,
          fullAt: row.full_compare_at,
          schema: row.source_schema,
        },
      }
    : undefined;
}

/** Written in the same transaction as the rows, so the state never claims more than PostgreSQL holds. */
export async function writeSyncSuccess(
  client: PoolClient,
  botId: string,
  state: {
    fingerprint: string | null;
    identity: string | null;
    tradesCount: number;
    ordersCount: number;
    result: object;
    window: WindowMemory;
  },
): Promise<void> {
  const w = state.window;
  await client.query(
    `INSERT INTO bot_sync_state (bot_id, source_fingerprint, source_identity, trades_count, orders_count, last_success_at, last_result, last_error, last_error_at, updated_at,
       window_at, window_high_water, full_compare_at, source_schema)
     VALUES ($1, $2, $6, $3, $4, now(), $5, NULL, NULL, now(), $7, $8, $9, $10)
     ON CONFLICT (bot_id) DO UPDATE SET source_fingerprint = EXCLUDED.source_fingerprint, source_identity = EXCLUDED.source_identity, trades_count = EXCLUDED.trades_count,
       orders_count = EXCLUDED.orders_count, last_success_at = now(), last_result = EXCLUDED.last_result,
       last_error = NULL, last_error_at = NULL, updated_at = now(), window_at = EXCLUDED.window_at,
       window_high_water = EXCLUDED.window_high_water, full_compare_at = EXCLUDED.full_compare_at, source_schema = EXCLUDED.source_schema`,
    [
      botId,
      state.fingerprint,
      state.tradesCount,
      state.ordersCount,
      JSON.stringify(state.result),
      state.identity,
      w.at,
      w.highWater,
      w.fullAt,
      w.schema,
    ],
  );
}

/** An unchanged bot costs one small write: the time of its last good sync (sync lag reads it). */
export async function touchSyncSuccess(client: PoolClient, botId: string): Promise<void> {
  await client.query(
    'UPDATE bot_sync_state SET last_success_at = now(), last_error = NULL, last_error_at = NULL WHERE bot_id = $1',
    [botId],
  );
}

/** Records a failure for `ctp-etl status`; best effort, after the data transaction rolled back. */
export async function writeSyncFailure(pool: Pool, instance: string, message: string): Promise<void> {
  await pool.query(
    `INSERT INTO bot_sync_state (bot_id, last_error, last_error_at)
     SELECT id, $2, now() FROM bots WHERE instance_id = $1
     ON CONFLICT (bot_id) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_at = now(), updated_at = now()`,
    [instance, message.slice(0, 2000)],
  );
}
