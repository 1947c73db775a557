import type { PoolClient } from 'pg';
import { laterOf, scanWindow, windowable, type HeldRows } from '../../bots/change-window.js';
import type { BotDatabase } from './bot-database.js';
import type { SyncWindows } from './merge-sync.js';
import { FIRST_TRADES } from './reset-check.js';

/**
 * bot-sync's change windows (bots/change-window.ts) for a bot PostgreSQL holds: its highest ids
 * and open rows are PostgreSQL's own, and the bot's first trades are always read (the reset guard
 * compares them with the file). Each table is scanned once, for its window, its latest date and
 * its row count. A string says why the file cannot be read by windows.
 */
export async function planSyncWindows(
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  since: Date,
  /** Rows PostgreSQL held after the last sync (bot_sync_state). */
  counts: { trades: number; orders: number },
): Promise<SyncWindows | string> {
  const keyed = source.guard(() => ({
    trades: windowable(source.db, 'trades'),
    orders: source.orders === undefined || windowable(source.db, 'orders'),
  }));
  if (!keyed.trades) return 'its trades table is not keyed by an INTEGER PRIMARY KEY id';
  if (!keyed.orders) return 'its orders table is not keyed by an INTEGER PRIMARY KEY id';
  const { rows } = await client.query<{
    max_trade: number | null;
    open_trades: number[] | null;
    first_trades: number[] | null;
    max_order: number | null;
  }>(
    `SELECT (SELECT max(trade_id) FROM trades_aggregated WHERE bot_id = $1) AS max_trade,
       (SELECT array_agg(trade_id) FROM trades_aggregated WHERE bot_id = $1 AND is_open) AS open_trades,
       (SELECT array_agg(trade_id) FROM (SELECT trade_id FROM trades_aggregated WHERE bot_id = $1 ORDER BY trade_id LIMIT ${FIRST_TRADES}) f) AS first_trades,
       (SELECT max(order_pk) FROM orders WHERE bot_id = $1) AS max_order`,
    [botId],
  );
  const pg = rows[0]!;
  const tradesHeld: HeldRows = {
    maxId: pg.max_trade ?? Number.MIN_SAFE_INTEGER,
    openIds: pg.open_trades ?? [],
    extraIds: pg.first_trades ?? [],
  };
  // The orders open in PostgreSQL are those of its open trades, which come along with their trades.
  const ordersHeld: HeldRows = { maxId: pg.max_order ?? Number.MIN_SAFE_INTEGER, openIds: [] };
  const held = {
    trades: { count: counts.trades, maxId: tradesHeld.maxId },
    orders: { count: counts.orders, maxId: ordersHeld.maxId },
  };
  return source.guard(() => {
    const trades = scanWindow(source.db, 'trades', since, tradesHeld);
    const orders = source.orders ? scanWindow(source.db, 'orders', since, ordersHeld, trades.ids) : undefined;
    return {
      trades: trades.window,
      tradeIds: trades.ids,
      orders: orders?.window,
      orderIds: orders?.ids ?? [],
      held,
      counts: { trades: trades.count, orders: orders?.count ?? 0 },
      highWater: laterOf(trades.highWater, orders?.highWater ?? null),
    };
  });
}
