import type { Pool, PoolClient } from 'pg';

export interface StoredSyncState {
  sourceFingerprint: string | null;
  /** The file's identity at the last good sync (null before migration 004's first sync). */
  sourceIdentity: string | null;
  tradesCount: number;
  ordersCount: number;
}

export async function readSyncState(client: PoolClient, botId: string): Promise<StoredSyncState | undefined> {
  const result = await client.query<{
    source_fingerprint: string | null;
    source_identity: string | null;
    trades_count: number;
    orders_count: number;
  }>('SELECT source_fingerprint, source_identity, trades_count, orders_count FROM bot_sync_state WHERE bot_id = $1', [
    botId,
  ]);
  const row = result.rows[0];
  return row
    ? {
        sourceFingerprint: row.source_fingerprint,
        sourceIdentity: row.source_identity,
        tradesCount: row.trades_count,
        ordersCount: row.orders_count,
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
  },
): Promise<void> {
  await client.query(
    `INSERT INTO bot_sync_state (bot_id, source_fingerprint, source_identity, trades_count, orders_count, last_success_at, last_result, last_error, last_error_at, updated_at)
     VALUES ($1, $2, $6, $3, $4, now(), $5, NULL, NULL, now())
     ON CONFLICT (bot_id) DO UPDATE SET source_fingerprint = EXCLUDED.source_fingerprint, source_identity = EXCLUDED.source_identity, trades_count = EXCLUDED.trades_count,
       orders_count = EXCLUDED.orders_count, last_success_at = now(), last_result = EXCLUDED.last_result,
       last_error = NULL, last_error_at = NULL, updated_at = now()`,
    [botId, state.fingerprint, state.tradesCount, state.ordersCount, JSON.stringify(state.result), state.identity],
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
