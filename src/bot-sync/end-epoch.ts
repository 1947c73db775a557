import type { PoolClient } from 'pg';
import type { AcceptReset } from '../bots/reset-guard.js';
import { quoteIdent } from '../sql-identifier.js';
import { otherMappings } from './freqtrade-columns.js';

export interface EndedEpoch {
  kept: AcceptReset;
  epoch: number;
  trades: number;
  orders: number;
}

/** Columns both tables have (the archive's `epoch` aside), so a column added later to one never breaks the copy. */
async function sharedColumns(client: PoolClient, live: string, archive: string): Promise<string> {
  const { rows } = await client.query<{ columns: string }>(
    `SELECT string_agg(quote_ident(a.column_name), ', ' ORDER BY a.ordinal_position) AS columns
     FROM information_schema.columns a JOIN information_schema.columns l
       ON l.table_schema = a.table_schema AND l.table_name = $1 AND l.column_name = a.column_name
     WHERE a.table_schema = current_schema() AND a.table_name = $2 AND a.column_name <> 'epoch'`,
    [live, archive],
  );
  return rows[0]!.columns;
}

/**
 * An accepted reset: the bot's rows end their epoch, moved to the archive tables (`archive`) or
 * deleted (`delete`); the epoch is recorded either way, and the bot's live rows start the next.
 * In the sync's transaction: a failure later rolls it back with the rest.
 */
export async function endEpoch(
  client: PoolClient,
  options: { botId: string; kept: AcceptReset; findings: readonly string[]; file: string },
): Promise<EndedEpoch> {
  const { botId, kept } = options;
  const bot = await client.query<{ epoch: number }>('SELECT epoch FROM bots WHERE id = $1 FOR UPDATE', [botId]);
  const epoch = bot.rows[0]!.epoch;
  const counts = await client.query<{ trades: number; orders: number }>(
    `SELECT (SELECT count(*) FROM trades_aggregated WHERE bot_id = $1)::int AS trades,
            (SELECT count(*) FROM orders WHERE bot_id = $1)::int AS orders`,
    [botId],
  );
  const { trades, orders } = counts.rows[0]!;
  await client.query(
    `INSERT INTO bot_epochs (bot_id, epoch, kept, trades, orders, findings, source_file) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [botId, epoch, kept, trades, orders, options.findings.join('; '), options.file],
  );
  // Orders before trades (their key references the trades); the bot's other tables end the epoch with them.
  const tables = [
    ['orders', 'orders_archive'],
    ['trades_aggregated', 'trades_archive'],
    ...otherMappings.map((m) => [m.target, `${m.target}_archive`] as const),
  ] as const;
  for (const [live, archive] of tables) {
    if (kept === 'archive') {
      const columns = await sharedColumns(client, live, archive);
      await client.query(
        `INSERT INTO ${quoteIdent(archive)} (${columns}, epoch) SELECT ${columns}, $2 FROM ${quoteIdent(live)} WHERE bot_id = $1`,
        [botId, epoch],
      );
    }
    await client.query(`DELETE FROM ${quoteIdent(live)} WHERE bot_id = $1`, [botId]);
  }
  await client.query('UPDATE bots SET epoch = epoch + 1, updated_at = now() WHERE id = $1', [botId]);
  return { kept, epoch, trades, orders };
}
