import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { NEWEST_SCHEMA, schemaStatements, type SchemaVersion } from './schemas.js';
import { exchangeOrderId, naiveUtc, naiveUtcMicros, planTrade, random, type Cell, type Row } from './trade-plan.js';

/**
 * FreqTrade bot databases of any schema version, filled from a seed: the project's own test,
 * demo and benchmark data (nothing outside the repository is needed). Every table the version
 * has gets rows: trades (spot or futures, open and closed, partial exits), several orders per
 * trade (filled, open, cancelled), pairlocks, KeyValueStore, trade_custom_data, wallet_history,
 * and the backup tables FreqTrade's own migrations left behind. Rows go in through prepared
 * statements in one transaction, indexes after them: a million trades take seconds, not minutes.
 */
export interface BotDbOptions {
  trades: number;
  /** Schema version (schemas.ts); default the newest. */
  version?: SchemaVersion;
  seed?: number;
  /** Futures (leverage up to 50x, shorts, liquidation prices, funding fees) needs FreqTrade 2022.4 (S07) or later. */
  tradingMode?: 'spot' | 'futures';
  /** Share of trades still open, among the newest; default 0.05. */
  openShare?: number;
  /** A fixed number of orders per trade (an entry, then exits) instead of the realistic mix. */
  ordersPerTrade?: number;
  /** trade_custom_data rows (default true); without them a test may delete trades without deleting their custom data first. */
  customData?: boolean;
  /** WAL mode, as a running FreqTrade has it; default true. */
  wal?: boolean;
  /** The clock no date may pass (default this host's): a version's era that would run past it starts earlier. */
  now?: Date;
}

export interface GeneratedBot {
  file: string;
  version: SchemaVersion;
  trades: number;
  orders: number;
  /** Rows per table. */
  rows: Record<string, number>;
}

/**
 * Where each version's trades begin: in its own era, so dates look like that version's bots;
 * earlier when the era's trades would end after the host's clock (bot-sync distrusts a bot whose
 * dates run ahead of it, and would compare every row at every sync).
 */
const ERA: Record<SchemaVersion, string> = {
  S01: '2019-04-01',
  S02: '2020-03-10',
  S03: '2020-05-10',
  S05: '2021-01-10',
  S06: '2021-09-01',
  S07: '2022-05-01',
  S08: '2022-09-01',
  S09: '2023-02-01',
  S10: '2023-11-01',
  S11: '2024-03-01',
  S12: '2024-08-10',
  S13: '2025-06-01',
};

const DAY_US = 86_400e6;
/** After the last trade's open: its close (a trade lasts up to about 2 days), orders and KeyValueStore's startup_time. */
const TAIL_US = 3 * DAY_US;

interface Inserter {
  run(row: Row): void;
}

/** An INSERT of the table's own columns, taking each from a row that names every version's columns. */
function inserter(db: Database.Database, table: string): Inserter | null {
  const columns = db
    .prepare<[string], { name: string; notnull: number }>('SELECT name, "notnull" FROM pragma_table_info(?)')
    .all(table);
  if (columns.length === 0) return null;
  const statement = db.prepare(
    `INSERT INTO "${table}" (${columns.map((c) => `"${c.name}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
  );
  return {
    run(row) {
      const values: Cell[] = columns.map((c) => {
        const value = row[c.name];
        if (value === undefined && c.notnull === 1)
          throw new Error(`generator: no value for NOT NULL column ${table}.${c.name}`);
        return value ?? null;
      });
      statement.run(values);
    },
  };
}

const maxId = (db: Database.Database, table: string): number =>
  (db.prepare(`SELECT coalesce(max(id), 0) AS n FROM "${table}"`).get() as { n: number }).n;

/** What a bot's trades share: spot or futures, the version's names, its strategy and timeframe. */
function tradeSettings(tradeColumns: readonly string[], tradingMode: 'spot' | 'futures' | undefined) {
  const futures = tradingMode === 'futures';
  if (futures && !tradeColumns.includes('leverage'))
    throw new Error('generator: futures trades need FreqTrade 2022.4 (schema S07) or later');
  return {
    futures,
    legacyNames: !tradeColumns.includes('exit_reason'),
    timeframe: futures ? 15 : 5,
    strategy: futures ? 'FuturesTrendV2' : 'SampleStrategy',
    exchange: futures ? 'binance' : 'kraken',
  };
}

export interface AddTradesOptions {
  first: number;
  count: number;
  seed?: number;
  tradingMode?: 'spot' | 'futures';
  openShare?: number;
  ordersPerTrade?: number;
  customData?: boolean;
  /** When trade `first` opens (microseconds since the epoch), and the time between trades. */
  startUs?: number;
  spacingUs?: number;
  /** No date after this (PlanInput.notAfterUs): the moment a running bot writes the trades. */
  notAfterUs?: number;
}

/**
 * Adds trades `first`..`first+count-1` with their orders, custom data and pair locks to an open
 * database of any version, in one transaction; returns the rows added per table.
 */
export function addTrades(db: Database.Database, options: AddTradesOptions): Record<string, number> {
  const trades = inserter(db, 'trades')!;
  const orders = inserter(db, 'orders');
  const customData = options.customData === false ? null : inserter(db, 'trade_custom_data');
  const locks = inserter(db, 'pairlocks');
  const columns = new Set(
    db
      .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('trades')")
      .all()
      .map((c) => c.name),
  );
  const seed = options.seed ?? 1;
  const openShare = options.openShare ?? 0.05;
  const window = Math.min(options.count, Math.ceil(2 * openShare * options.count));
  const openFrom = options.first + options.count - window;
  const openChance = window === 0 ? 0 : (openShare * options.count) / window;
  const spacing = options.spacingUs ?? 600_000_000;
  const start = options.startUs ?? Date.UTC(2025, 5, 1) * 1000;
  const rng = random(seed);
  let orderId = orders ? maxId(db, 'orders') + 1 : 1;
  let customId = customData ? maxId(db, 'trade_custom_data') + 1 : 1;
  let lockId = locks ? maxId(db, 'pairlocks') + 1 : 1;
  const added = { trades: 0, orders: 0, trade_custom_data: 0, pairlocks: 0 };
  db.transaction(() => {
    for (let id = options.first; id < options.first + options.count; id++) {
      const step = id - options.first;
      const plan = planTrade({
        id,
        seed,
        openedUs: Math.floor(start + step * spacing + rng() * spacing * 0.5),
        open: id >= openFrom && rng() < openChance,
        ...tradeSettings([...columns], options.tradingMode),
        firstOrderId: options.ordersPerTrade === undefined ? orderId : (id - 1) * options.ordersPerTrade + 1,
        ordersPerTrade: options.ordersPerTrade,
        notAfterUs: options.notAfterUs,
      });
      trades.run(plan.trade);
      added.trades += 1;
      if (orders) {
        for (const row of plan.orders) orders.run(row);
        orderId += plan.orders.length;
        added.orders += plan.orders.length;
      }
      if (customData)
        for (const row of plan.customData) {
          customData.run({ id: customId++, ...row });
          added.trade_custom_data += 1;
        }
      if (locks && plan.lock) {
        locks.run({ id: lockId++, ...plan.lock });
        added.pairlocks += 1;
      }
    }
  })();
  return added;
}

/**
 * What FreqTrade does when trades end: each open trade of `ids` is closed at `closedUs` (its row
 * rewritten as the closed trade, its open orders cancelled, its exit orders added), in one
 * transaction; returns the number of trades closed.
 */
export function closeTrades(
  db: Database.Database,
  ids: readonly number[],
  options: { closedUs: number; seed?: number; tradingMode?: 'spot' | 'futures'; notAfterUs?: number },
): number {
  const columns = db
    .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('trades')")
    .all()
    .map((c) => c.name);
  const update = db.prepare(
    `UPDATE trades SET ${columns
      .filter((c) => c !== 'id')
      .map((c) => `"${c}" = ?`)
      .join(', ')} WHERE id = ? AND is_open = 1`,
  );
  const orders = inserter(db, 'orders');
  const cancel = orders
    ? db.prepare("UPDATE orders SET ft_is_open = 0, status = 'canceled' WHERE ft_trade_id = ? AND ft_is_open = 1")
    : null;
  const seed = options.seed ?? 1;
  const openDate = db.prepare<[number], { open_date: string }>(
    'SELECT open_date FROM trades WHERE id = ? AND is_open = 1',
  );
  let closed = 0;
  db.transaction(() => {
    for (const id of ids) {
      const open = openDate.get(id);
      if (!open) continue;
      const firstOrderId = orders ? maxId(db, 'orders') + 1 : 1;
      const plan = planTrade({
        ...tradeSettings(columns, options.tradingMode),
        id,
        seed,
        openedUs: naiveUtcMicros(open.open_date),
        closedUs: options.closedUs,
        open: false,
        firstOrderId,
        notAfterUs: options.notAfterUs,
      });
      update.run([...columns.filter((c) => c !== 'id').map((c) => plan.trade[c] ?? null), id]);
      cancel?.run(id);
      // A version without an orders table (before 2021) has only the trade's row to rewrite.
      if (orders)
        plan.orders
          .slice(plan.entryOrders)
          .forEach((row, k) =>
            orders.run({ ...row, id: firstOrderId + k, order_id: exchangeOrderId(firstOrderId + k, seed) }),
          );
      closed += 1;
    }
  })();
  return closed;
}

/** Creates `file` (replacing any) as a bot database of the given version and fills every table. */
export function createBotDatabase(file: string, options: BotDbOptions): GeneratedBot {
  const version = options.version ?? NEWEST_SCHEMA;
  const seed = options.seed ?? 1;
  mkdirSync(path.dirname(file), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  const db = new Database(file);
  try {
    // No journal while the file is built (a failed build is thrown away), then FreqTrade's WAL.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    const ddl = schemaStatements(version);
    for (const sql of ddl.tables) db.exec(sql);
    const nowUs = (options.now ?? new Date()).getTime() * 1000;
    const spacingUs = Math.min(4 * 3.6e9, Math.max(20e6, Math.floor((180 * 24 * 3.6e9) / Math.max(1, options.trades))));
    // Rounded down to a day, so the same seed gives the same file all day.
    const latestStartUs = Math.floor((nowUs - options.trades * spacingUs - TAIL_US) / DAY_US) * DAY_US;
    const startUs = Math.min(Date.parse(`${ERA[version]}T00:00:00Z`) * 1000, latestStartUs);
    const rows: Record<string, number> = addTrades(db, {
      first: 1,
      count: options.trades,
      seed,
      tradingMode: options.tradingMode,
      openShare: options.openShare,
      ordersPerTrade: options.ordersPerTrade,
      customData: options.customData,
      startUs,
      spacingUs,
      notAfterUs: nowUs,
    });
    const endUs = startUs + options.trades * spacingUs;
    db.transaction(() => {
      rows.KeyValueStore = fillKeyValueStore(db, startUs, endUs, options.tradingMode === 'futures');
      rows.wallet_history = fillWalletHistory(db, startUs, endUs, seed);
      rows.__diesel_schema_migrations = fillDieselMigrations(db, startUs);
      for (const [backup, table] of [
        ['trades_bak0', 'trades'],
        ['orders_bak0', 'orders'],
      ] as const)
        rows[backup] = fillBackup(db, backup, table, Math.ceil(options.trades * 0.3));
    })();
    for (const sql of ddl.indexes) db.exec(sql);
    db.pragma(`journal_mode = ${options.wal === false ? 'DELETE' : 'WAL'}`);
    const tables = new Set(
      db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((t) => t.name),
    );
    const counts = Object.fromEntries(Object.entries(rows).filter(([table]) => tables.has(table)));
    return { file, version, trades: counts.trades ?? 0, orders: counts.orders ?? 0, rows: counts };
  } finally {
    db.close();
  }
}

function fillKeyValueStore(db: Database.Database, startUs: number, endUs: number, futures: boolean): number {
  const insert = inserter(db, 'KeyValueStore');
  if (!insert) return 0;
  const rows: Array<[string, string, Cell, Cell]> = [
    ['bot_start_time', 'datetime', naiveUtc(startUs - 3 * 86_400e6 + 186_204), null],
    ['startup_time', 'datetime', naiveUtc(endUs + 3_606_026), null],
  ];
  if (futures) rows.unshift(['binance_migration', 'int', null, 1]);
  rows.forEach(([key, type, date, int], i) =>
    insert.run({
      id: i + 1,
      key,
      value_type: type,
      string_value: null,
      datetime_value: date,
      float_value: null,
      int_value: int,
    }),
  );
  return rows.length;
}

/** One row per day and currency (FreqTrade 2026.4's daily wallet snapshots), at most a year of them. */
function fillWalletHistory(db: Database.Database, startUs: number, endUs: number, seed: number): number {
  const insert = inserter(db, 'wallet_history');
  if (!insert) return 0;
  const r = random(seed + 77);
  const day = 86_400e6;
  const days = Math.min(366, Math.max(1, Math.ceil((endUs - startUs) / day)));
  let id = 1;
  let usdt = 1000;
  for (let d = 0; d < days; d++) {
    const timestamp = naiveUtc(Math.floor(startUs / day) * day + d * day);
    usdt = Number((usdt * (0.99 + r() * 0.025)).toFixed(8));
    const position = Number((usdt * r() * 0.5).toFixed(8));
    const common = { timestamp, quote_currency: 'USDT', leverage: 1.0, bot_managed: 1 };
    insert.run({
      id: id++,
      ...common,
      currency: 'USDT',
      rate: 1.0,
      balance: usdt,
      total_quote: usdt + position,
      total_position_value: position,
      collateral: usdt,
    });
    const btcRate = Number((60_000 * (0.9 + r() * 0.2)).toFixed(2));
    insert.run({
      id: id++,
      ...common,
      currency: 'BTC',
      rate: btcRate,
      balance: Number((position / btcRate).toFixed(8)),
      total_quote: position,
      total_position_value: position,
      collateral: null,
    });
  }
  return id - 1;
}

/** Run when the bot first started (KeyValueStore's bot_start_time), in diesel's seconds-only text. */
function fillDieselMigrations(db: Database.Database, startUs: number): number {
  if (!inserter(db, '__diesel_schema_migrations')) return 0;
  const insert = db.prepare('INSERT INTO __diesel_schema_migrations (version, run_on) VALUES (?, ?)');
  const runOn = naiveUtc(startUs - 3 * DAY_US + 186_204).slice(0, 19);
  insert.run('00000000000000', runOn);
  insert.run('20240801120000', runOn);
  return 2;
}

/** FreqTrade's migrations copy a table to `<name>_bak0` before rebuilding it: the older rows, older columns. */
function fillBackup(db: Database.Database, backup: string, table: string, upToTrade: number): number {
  const columns = db
    .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)')
    .all(backup)
    .map((c) => `"${c.name}"`);
  if (columns.length === 0) return 0;
  const key = table === 'trades' ? 'id' : 'ft_trade_id';
  return db
    .prepare(
      `INSERT INTO "${backup}" (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM "${table}" WHERE ${key} <= ?`,
    )
    .run(upToTrade).changes;
}
