import Database from 'better-sqlite3';
import type { PgPool } from '../../src/connections/postgres.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';

export interface Equality {
  sourceRows: number;
  /** Source rows (trades + orders) PostgreSQL does not have. */
  lost: number;
  /** PostgreSQL rows beyond one per source row: duplicates, or rows the source no longer has. */
  duplicated: number;
}

/** Trades and orders of each bot by key, SQLite against PostgreSQL. */
export async function compareBots(pg: PgPool, instancesDir: string, bots: readonly string[]): Promise<Equality> {
  const total: Equality = { sourceRows: 0, lost: 0, duplicated: 0 };
  for (const bot of bots) {
    const db = new Database(botDbPath(instancesDir, bot), { readonly: true });
    const trades = new Set((db.prepare('SELECT id FROM trades').all() as Array<{ id: number }>).map((r) => r.id));
    const orders = new Set((db.prepare('SELECT id FROM orders').all() as Array<{ id: number }>).map((r) => r.id));
    db.close();
    const storedTrades = await pg.query<{ k: number }>(
      'SELECT t.trade_id AS k FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1',
      [bot],
    );
    const storedOrders = await pg.query<{ k: number }>(
      'SELECT o.order_pk AS k FROM orders o JOIN bots b ON b.id = o.bot_id WHERE b.instance_id = $1',
      [bot],
    );
    for (const [source, stored] of [
      [trades, storedTrades.rows],
      [orders, storedOrders.rows],
    ] as const) {
      total.sourceRows += source.size;
      const seen = new Set<number>();
      for (const { k } of stored) {
        if (!source.has(k) || seen.has(k)) total.duplicated += 1;
        seen.add(k);
      }
      for (const k of source) if (!seen.has(k)) total.lost += 1;
    }
  }
  return total;
}
