import { createHash } from 'node:crypto';
import type { PgPool } from '../connections/postgres.js';
import { BotDatabase } from '../jobs/bot-sync/bot-database.js';
import { canonicalDecimal } from './canonical-decimal.js';

/** Count and checksum of one table, over the fields a cutover depends on. */
export interface TableSide {
  count: number;
  checksum: string;
}

const num = (v: unknown): string => (v === null || v === undefined ? '' : canonicalDecimal(String(v)));
const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const bool = (v: unknown): string => (v === null || v === undefined ? '' : v === true || v === 't' ? '1' : '0');
/** Naive UTC text at microsecond precision, as PostgreSQL keeps it. */
const date = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const [seconds = '', fraction = ''] = String(v).replace('T', ' ').split('.');
  return `${seconds}.${fraction.padEnd(6, '0').slice(0, 6)}`;
};

const tradeLine = (r: Record<string, unknown>): string =>
  [
    r.trade_id,
    text(r.pair),
    bool(r.is_open),
    num(r.amount),
    num(r.open_rate),
    num(r.close_rate),
    num(r.close_profit),
    num(r.close_profit_abs),
    date(r.open_date),
    date(r.close_date),
  ].join('|');
const orderLine = (r: Record<string, unknown>): string =>
  [
    r.order_pk,
    r.trade_id,
    text(r.status),
    text(r.side),
    num(r.amount),
    num(r.filled),
    num(r.price),
    date(r.order_date),
  ].join('|');

class Digest {
  private readonly hash = createHash('md5');
  count = 0;
  add(line: string): void {
    this.hash.update(line).update('\n');
    this.count += 1;
  }
  result(): TableSide {
    return { count: this.count, checksum: this.hash.digest('hex') };
  }
}

/** The bot's SQLite side: trades, and orders whose trade exists (an orphan order is a recorded reject). */
export function sourceChecksums(
  bot: string,
  file: string,
  busyTimeoutMs: number,
): { trades: TableSide; orders: TableSide; orphanOrders: number; rejectedRows: number } {
  const db = BotDatabase.open(bot, file, busyTimeoutMs);
  try {
    const trades = new Digest();
    const tradeIds = new Set<number>();
    let rejectedRows = db.eachRow(db.trades, (row) => {
      tradeIds.add(row.key);
      trades.add(tradeLine({ trade_id: row.key, ...row.values }));
    });
    const orders = new Digest();
    let orphanOrders = 0;
    if (db.orders) {
      rejectedRows += db.eachRow(db.orders, (row) => {
        if (!tradeIds.has(Number(row.values.trade_id))) {
          orphanOrders += 1;
          return;
        }
        orders.add(orderLine({ order_pk: row.key, ...row.values }));
      });
    }
    return { trades: trades.result(), orders: orders.result(), orphanOrders, rejectedRows };
  } finally {
    db.close();
  }
}

/** Source rows the bot's last sync recorded in rejects as unusable (a bad key, a required value missing). */
export async function recordedRowRejects(pg: PgPool, bot: string): Promise<number> {
  const { rows } = await pg.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%' AND position LIKE 'rowid %'`,
    [bot],
  );
  return rows[0]?.n ?? 0;
}

/** The same fields as PostgreSQL holds them. */
export async function targetChecksums(pg: PgPool, bot: string): Promise<{ trades: TableSide; orders: TableSide }> {
  const utc = (column: string): string =>
    `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ${column}`;
  const trades = await pg.query<Record<string, unknown>>(
    `SELECT t.trade_id, t.pair, t.is_open, t.amount::text AS amount, t.open_rate::text AS open_rate, t.close_rate::text AS close_rate,
       t.close_profit::text AS close_profit, t.close_profit_abs::text AS close_profit_abs, ${utc('open_date')}, ${utc('close_date')}
     FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1 ORDER BY t.trade_id`,
    [bot],
  );
  const orders = await pg.query<Record<string, unknown>>(
    `SELECT o.order_pk, o.trade_id, o.status, o.side, o.amount::text AS amount, o.filled::text AS filled, o.price::text AS price, ${utc('order_date')}
     FROM orders o JOIN bots b ON b.id = o.bot_id WHERE b.instance_id = $1 ORDER BY o.order_pk`,
    [bot],
  );
  const t = new Digest();
  for (const row of trades.rows) t.add(tradeLine(row));
  const o = new Digest();
  for (const row of orders.rows) o.add(orderLine(row));
  return { trades: t.result(), orders: o.result() };
}
