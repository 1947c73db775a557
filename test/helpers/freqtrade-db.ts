import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/**
 * The real FreqTrade databases beside the repository (never modified: tests copy them); from a
 * git worktree under /work/wt, the shared folder is not beside it, so fall back to its place.
 */
const BESIDE = path.resolve(fileURLToPath(import.meta.url), '../../../../shared/fixtures/freqtrade');
export const FIXTURES_DIR = existsSync(BESIDE) ? BESIDE : '/work/shared/fixtures/freqtrade';

export const FIXTURE_FILES = {
  chaserun: '2021-35cols-chaserun.sqlite',
  jugder: '2022-36cols-jugder.sqlite',
  arthurahiyarov: '2022-44cols-arthurahiyarov.sqlite',
  darkospale: '2023-50cols-darkospale.dryrun.sqlite',
  th2002: '2024-49cols-th2002.dryrun.sqlite',
  germoso: '2025-51cols-germoso.sqlite',
} as const;

export type FixtureName = keyof typeof FIXTURE_FILES;

/** `<instancesDir>/<instance>/user_data/tradesv3.sqlite`, as FreqTrade's docker layout has it. */
export function botDbPath(instancesDir: string, instance: string): string {
  return path.join(instancesDir, instance, 'user_data', 'tradesv3.sqlite');
}

export function installFixture(instancesDir: string, instance: string, fixture: FixtureName): string {
  const target = botDbPath(instancesDir, instance);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(path.join(FIXTURES_DIR, FIXTURE_FILES[fixture]), target);
  return target;
}

/** A small deterministic PRNG (mulberry32), so generated bots are the same on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PAIRS = ['BTC/USDT', 'ETH/USDT', 'PEPE/USDT', 'SHIB/USDT', 'SOL/USDT', 'DOGE/USDT'];

function naiveUtc(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '000');
}

export interface GeneratedBot {
  file: string;
  trades: number;
  orders: number;
}

/**
 * A FreqTrade database with the newest fixture's schema (its own CREATE statements) and
 * generated trades, each with `ordersPerTrade` orders, or, with 'entry-exit', as FreqTrade has
 * them: an entry order per trade and an exit order per closed trade, about 3% of trades open.
 * Meme-coin pairs get amounts above 10^10.
 */
export type OrdersPerTrade = number | 'entry-exit';

export function createFreqtradeDb(
  file: string,
  options: { trades: number; ordersPerTrade?: OrdersPerTrade; seed?: number; wal?: boolean },
): GeneratedBot {
  mkdirSync(path.dirname(file), { recursive: true });
  const schemaSource = new Database(path.join(FIXTURES_DIR, FIXTURE_FILES.germoso), { readonly: true });
  const statements = schemaSource
    .prepare<[], { sql: string }>(
      "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC",
    )
    .all()
    .map((r) => r.sql);
  schemaSource.close();
  const db = new Database(file);
  if (options.wal) db.pragma('journal_mode = WAL');
  for (const sql of statements) db.exec(sql);
  const ordersPerTrade = options.ordersPerTrade ?? 2;
  insertTrades(db, 1, options.trades, ordersPerTrade, options.seed ?? 1);
  const orders = Number((db.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n);
  db.close();
  return { file, trades: options.trades, orders };
}

/** Adds trades `first`..`first+count-1` (and their orders) to an open database. */
export function insertTrades(
  db: Database.Database,
  first: number,
  count: number,
  ordersPerTrade: OrdersPerTrade,
  seed: number,
): void {
  const next = random(seed + first);
  const trade = db.prepare(
    `INSERT INTO trades (id, exchange, pair, base_currency, stake_currency, is_open, fee_open, fee_open_cost, fee_open_currency, fee_close,
       open_rate, open_trade_value, close_rate, close_profit, close_profit_abs, stake_amount, amount, open_date, close_date,
       stop_loss, stop_loss_pct, initial_stop_loss, initial_stop_loss_pct, is_stop_loss_trailing, max_rate, min_rate, exit_reason,
       strategy, enter_tag, timeframe, trading_mode, leverage, is_short, interest_rate, funding_fees, record_version)
     VALUES (?, 'binance', ?, ?, 'USDT', ?, 0.001, 0.01, 'USDT', 0.001, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, -0.1, ?, -0.1, 0, ?, ?, ?,
       'SampleStrategy', ?, 5, 'spot', 1.0, 0, 0.0, 0.0, 2)`,
  );
  const order = db.prepare(
    `INSERT INTO orders (id, ft_trade_id, ft_order_side, ft_pair, ft_is_open, ft_amount, ft_price, order_id, status, symbol, order_type, side,
       price, average, amount, filled, remaining, cost, order_date, order_filled_date)
     VALUES (?, ?, ?, ?, 0, ?, ?, ?, 'closed', ?, 'limit', ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
  );
  let lastOrder = Number((db.prepare('SELECT coalesce(max(id), 0) AS n FROM orders').get() as { n: number }).n);
  const run = db.transaction(() => {
    for (let id = first; id < first + count; id++) {
      const pair = PAIRS[Math.floor(next() * PAIRS.length)]!;
      const meme = pair.startsWith('PEPE') || pair.startsWith('SHIB');
      const rate = meme ? 0.000001 + next() * 0.00001 : 1 + next() * 60_000;
      const amount = meme ? 1e10 + Math.floor(next() * 9e12) : Math.round(next() * 1e6) / 1e3;
      const isOpen = next() < (ordersPerTrade === 'entry-exit' ? 0.03 : 0.05);
      const opened = Date.UTC(2024, 0, 1) + id * 600_000 + Math.floor(next() * 1000);
      const closeRate = rate * (0.95 + next() * 0.1);
      const profitRatio = isOpen ? null : closeRate / rate - 1;
      trade.run(
        id,
        pair,
        pair.split('/')[0],
        isOpen ? 1 : 0,
        rate,
        rate * amount,
        isOpen ? null : closeRate,
        profitRatio,
        profitRatio === null ? null : profitRatio * rate * amount,
        rate * amount,
        amount,
        naiveUtc(opened),
        isOpen ? null : naiveUtc(opened + 3_600_000),
        rate * 0.9,
        rate * 0.9,
        rate * 1.05,
        rate * 0.95,
        isOpen ? null : 'exit_signal',
        next() < 0.5 ? 'long_signal' : null,
      );
      const orders = ordersPerTrade === 'entry-exit' ? (isOpen ? 1 : 2) : ordersPerTrade;
      for (let k = 0; k < orders; k++) {
        const orderId = ordersPerTrade === 'entry-exit' ? ++lastOrder : (id - 1) * ordersPerTrade + k + 1;
        const side = k % 2 === 0 ? 'buy' : 'sell';
        order.run(
          orderId,
          id,
          side,
          pair,
          amount,
          rate,
          `ord-${id}-${k}`,
          pair,
          side,
          rate,
          rate,
          amount,
          amount,
          rate * amount,
          naiveUtc(opened),
          naiveUtc(opened + 1000),
        );
      }
    }
  });
  run();
}
