import type { PoolClient } from 'pg';
import type { TableMapping } from './freqtrade-columns.js';

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Staged rows whose key is usable and, for orders, whose trade was staged too. */
function usable(mapping: TableMapping, stage: string, parentStage: string | undefined): string {
  const key = `s.${quote(mapping.key.target)} IS NOT NULL`;
  if (parentStage === undefined) return key;
  return `${key} AND EXISTS (SELECT 1 FROM ${quote(parentStage)} p WHERE p.trade_id = s.trade_id)`;
}

/**
 * Upserts the staged rows into the real table in one statement; a row whose hash is unchanged
 * is not written at all.
 */
export async function mergeStaged(
  client: PoolClient,
  mapping: TableMapping,
  stage: string,
  botId: string,
  parentStage?: string,
): Promise<{ inserted: number; updated: number }> {
  const columns = Object.entries(mapping.columns);
  const key = quote(mapping.key.target);
  const selected = columns.map(([c, k]) => (k === 'date' ? `s.${quote(c)} AT TIME ZONE 'UTC'` : `s.${quote(c)}`));
  const targetColumns = ['bot_id', mapping.key.target, ...columns.map(([c]) => c), 'extra', 'row_hash'].map(quote);
  const updates = [...columns.map(([c]) => c), 'extra', 'row_hash'].map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`);
  // Only rows whose hash differs from what PostgreSQL holds reach the upsert (a hash join over
  // the bot's rows), so an unchanged row costs a comparison, not a conflict check.
  const result = await client.query<{ inserted: string; updated: string }>(
    `WITH changed AS (
       SELECT s.* FROM ${quote(stage)} s
       LEFT JOIN ${quote(mapping.target)} t ON t.bot_id = $1::uuid AND t.${key} = s.${key}
       WHERE ${usable(mapping, stage, parentStage)} AND t.row_hash IS DISTINCT FROM s.row_hash),
     written AS (
       INSERT INTO ${quote(mapping.target)} (${targetColumns.join(', ')})
       SELECT $1::uuid, s.${key}, ${selected.join(', ')}, s.extra, s.row_hash FROM changed s
       ON CONFLICT (bot_id, ${key}) DO UPDATE SET ${updates.join(', ')}, synced_at = now()
       WHERE ${quote(mapping.target)}.row_hash IS DISTINCT FROM EXCLUDED.row_hash
       RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written`,
    [botId],
  );
  const row = result.rows[0];
  return { inserted: Number(row?.inserted ?? 0), updated: Number(row?.updated ?? 0) };
}

/** Deletes the bot's rows that the source no longer has (deleted in FreqTrade). */
export async function deleteUnstaged(
  client: PoolClient,
  mapping: TableMapping,
  stage: string,
  botId: string,
  parentStage?: string,
): Promise<number> {
  const key = quote(mapping.key.target);
  const result = await client.query(
    `DELETE FROM ${quote(mapping.target)} t WHERE t.bot_id = $1
     AND NOT EXISTS (SELECT 1 FROM ${quote(stage)} s WHERE s.${key} = t.${key} AND ${usable(mapping, stage, parentStage)})`,
    [botId],
  );
  return result.rowCount ?? 0;
}

/**
 * Orders of a trade the source does not have go to rejects. (Orders are read before trades, and
 * FreqTrade writes a trade before its orders, so an order read here always finds its trade
 * unless the source really lacks it.)
 */
export async function rejectOrphanOrders(
  client: PoolClient,
  ordersStage: string,
  tradesStage: string,
  sourceRef: string,
): Promise<number> {
  const result = await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason)
     SELECT 'bot-sync', 'orders', $1, 'id ' || s.order_pk,
            'order ' || s.order_pk || ' belongs to trade ' || s.trade_id || ', which is not in the trades table'
     FROM ${quote(ordersStage)} s
     WHERE s.order_pk IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM ${quote(tradesStage)} p WHERE p.trade_id = s.trade_id)
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason`,
    [sourceRef],
  );
  return result.rowCount ?? 0;
}
