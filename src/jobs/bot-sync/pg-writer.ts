import type { PoolClient } from 'pg';
import type { ColumnKind, TableMapping } from './freqtrade-columns.js';
import type { NormalizedRow } from './row-normalizer.js';

const PG_TYPES: Record<ColumnKind, string> = { int: 'bigint', numeric: 'numeric', text: 'text', bool: 'boolean', date: 'timestamp' };

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * One multi-row upsert per batch: rows travel as one jsonb parameter (numbers as text, so exact)
 * and are unpacked by jsonb_to_recordset. Only rows whose hash differs are touched.
 */
function upsertSql(mapping: TableMapping): string {
  const columns = Object.entries(mapping.columns);
  const key = mapping.key.target;
  const recordType = [`${quote(key)} bigint`, ...columns.map(([c, k]) => `${quote(c)} ${PG_TYPES[k]}`), 'extra jsonb', 'row_hash text'].join(', ');
  const selected = columns.map(([c, k]) => (k === 'date' ? `x.${quote(c)} AT TIME ZONE 'UTC'` : `x.${quote(c)}`));
  const targetColumns = ['bot_id', key, ...columns.map(([c]) => c), 'extra', 'row_hash'].map(quote);
  const updates = [...columns.map(([c]) => c), 'extra', 'row_hash'].map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`);
  return `INSERT INTO ${quote(mapping.target)} (${targetColumns.join(', ')})
    SELECT $1::uuid, x.${quote(key)}, ${selected.join(', ')}, x.extra, x.row_hash
    FROM jsonb_to_recordset($2::jsonb) AS x(${recordType})
    ON CONFLICT (bot_id, ${quote(key)}) DO UPDATE SET ${updates.join(', ')}, synced_at = now()
    WHERE ${quote(mapping.target)}.row_hash IS DISTINCT FROM EXCLUDED.row_hash
    RETURNING (xmax = 0) AS inserted`;
}

const sqlCache = new Map<TableMapping, string>();

export interface WriteCounts {
  inserted: number;
  updated: number;
}

export async function upsertRows(client: PoolClient, mapping: TableMapping, botId: string, rows: readonly NormalizedRow[]): Promise<WriteCounts> {
  if (rows.length === 0) return { inserted: 0, updated: 0 };
  let sql = sqlCache.get(mapping);
  if (sql === undefined) {
    sql = upsertSql(mapping);
    sqlCache.set(mapping, sql);
  }
  const payload = rows.map((r) => ({ [mapping.key.target]: r.key, ...r.values, extra: r.extra, row_hash: r.hash }));
  const result = await client.query<{ inserted: boolean }>(sql, [botId, JSON.stringify(payload)]);
  const inserted = result.rows.filter((r) => r.inserted).length;
  return { inserted, updated: result.rows.length - inserted };
}

/** key -> row hash of what PostgreSQL holds for this bot. */
export async function storedHashes(client: PoolClient, mapping: TableMapping, botId: string): Promise<Map<number, string>> {
  const key = quote(mapping.key.target);
  const result = await client.query<{ key: number; row_hash: string }>(
    `SELECT ${key} AS key, row_hash FROM ${quote(mapping.target)} WHERE bot_id = $1`,
    [botId],
  );
  return new Map(result.rows.map((r) => [r.key, r.row_hash]));
}

export async function deleteRows(client: PoolClient, mapping: TableMapping, botId: string, keys: readonly number[]): Promise<number> {
  if (keys.length === 0) return 0;
  const result = await client.query(`DELETE FROM ${quote(mapping.target)} WHERE bot_id = $1 AND ${quote(mapping.key.target)} = ANY($2::int[])`, [
    botId,
    keys,
  ]);
  return result.rowCount ?? 0;
}
