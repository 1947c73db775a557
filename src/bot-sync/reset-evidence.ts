import type { PoolClient } from 'pg';
import type { ResetEvidence, TableDeletions } from '../bots/reset-guard.js';
import { stagedTable, type StagedRows } from './staged-rows.js';

/** How many of the bot's first trades are compared with the file (a reset renumbers from 1). */
export const FIRST_TRADES = 5;

/** The staged tables holding the ids the source has now (the staged rows, or with windows the staged ids). */
export interface StagedIdTables {
  trades: string;
  orders: string;
}

/**
 * What the staged source would do to the bot's rows, for the reset guard: the share of rows it
 * would delete (by `ids`), and the bot's first trades it now holds otherwise (stage_trades: a
 * change window always reads the bot's first FIRST_TRADES trades).
 */
export async function gatherResetEvidence(
  client: PoolClient,
  botId: string,
  withOrders: boolean,
  identity: ResetEvidence['identity'],
  ids: StagedIdTables | { deletions: readonly TableDeletions[]; trades: StagedRows } = {
    trades: 'stage_trades',
    orders: 'stage_orders',
  },
): Promise<ResetEvidence> {
  // Change windows count their deletions from the id lists themselves.
  if ('deletions' in ids)
    return { identity, firstTradesChanged: await firstTradesChanged(client, botId, ids.trades), tables: ids.deletions };
  return countedEvidence(client, botId, withOrders, identity, ids);
}

async function countedEvidence(
  client: PoolClient,
  botId: string,
  withOrders: boolean,
  identity: ResetEvidence['identity'],
  ids: StagedIdTables,
): Promise<ResetEvidence> {
  // Counted as NOT EXISTS in a WHERE (a hash anti join): inside an aggregate's FILTER it would be
  // a subquery run per row over an unindexed staging table, minutes for a big bot.
  const trades = await client.query<{ held: number; deleting: number }>(
    `SELECT (SELECT count(*) FROM trades_aggregated WHERE bot_id = $1)::int AS held,
       (SELECT count(*) FROM trades_aggregated t WHERE t.bot_id = $1
          AND NOT EXISTS (SELECT 1 FROM ${ids.trades} s WHERE s.trade_id = t.trade_id))::int AS deleting`,
    [botId],
  );
  const orders = await client.query<{ held: number; deleting: number }>(
    withOrders
      ? `SELECT (SELECT count(*) FROM orders WHERE bot_id = $1)::int AS held,
           (SELECT count(*) FROM orders o WHERE o.bot_id = $1
              AND NOT EXISTS (SELECT 1 FROM ${ids.orders} s JOIN ${ids.trades} p ON p.trade_id = s.trade_id
                              WHERE s.order_pk = o.order_pk))::int AS deleting`
      : 'SELECT count(*)::int AS held, count(*)::int AS deleting FROM orders o WHERE o.bot_id = $1',
    [botId],
  );
  const tables: TableDeletions[] = [
    { table: 'trades', ...trades.rows[0]! },
    { table: 'orders', ...orders.rows[0]! },
  ];
  return { identity, firstTradesChanged: await firstTradesChanged(client, botId, stagedTable(ids.trades)), tables };
}

/** The bot's first FIRST_TRADES trades that the staged trades hold with another pair or opening time, described. */
async function firstTradesChanged(client: PoolClient, botId: string, staged: StagedRows): Promise<string[]> {
  if (staged.rows === 0) return [];
  const changed = await client.query<{
    trade_id: number;
    pair: string;
    opened: string;
    now_pair: string;
    now_opened: string;
  }>(
    `SELECT t.trade_id, t.pair, coalesce(to_char(t.open_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '?') AS opened,
       coalesce(s.pair, '?') AS now_pair, coalesce(to_char(s.open_date, 'YYYY-MM-DD HH24:MI:SS'), '?') AS now_opened
     FROM (SELECT trade_id, pair, open_date FROM trades_aggregated WHERE bot_id = $1 ORDER BY trade_id LIMIT ${FIRST_TRADES}) t
     JOIN ${staged.from(2)} s ON s.trade_id = t.trade_id
     WHERE s.pair IS DISTINCT FROM t.pair OR (s.open_date AT TIME ZONE 'UTC') IS DISTINCT FROM t.open_date
     ORDER BY t.trade_id`,
    [botId, ...staged.params],
  );
  return changed.rows.map(
    (r) => `trade ${r.trade_id} was ${r.pair} opened ${r.opened}, is now ${r.now_pair} opened ${r.now_opened}`,
  );
}
