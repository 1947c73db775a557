import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { findBotDatabaseFile } from '../bots/bot-database-file.js';
import { activeBots } from '../bots/bot-registry.js';
import { errorMessage } from '../errors.js';
import { quoteIdent } from '../sql-identifier.js';
import { BotDatabase } from '../bot-sync/bot-database.js';
import { ordersMapping, otherMappings, tradesMapping, type TableMapping } from '../bot-sync/freqtrade-columns.js';
import { compareRegistryRow, type RegistryCheck } from './bot-registry-row.js';
import { botIdOf, compareTable, recordedRowRejects, type TableComparison, type TableSide } from './bot-rows.js';
import { DEFAULT_SHOWN_DIFFERENCES, DifferenceLog, type ValueDifference } from './differences.js';

export interface TableCheck {
  source: TableSide;
  target: TableSide;
  /** Values (and rows) that differ. */
  differences: number;
  ok: boolean;
}

export interface BotCheck {
  bot: string;
  ok: boolean;
  trades?: TableCheck;
  orders?: TableCheck;
  /** The bot's other tables (pairlocks, trade_custom_data, wallet_history, key_value_store), by PostgreSQL name. */
  otherTables?: Record<string, TableCheck>;
  /** The bot's `bots` row against its config.json (bot-registry-row.ts). */
  registry?: RegistryCheck;
  /** The first values that differ (trades, orders, the other tables, then the registry) and how many differ in all. */
  differences?: { total: number; first: ValueDifference[] };
  /** Orders of a trade that does not exist: recorded in rejects by the sync, not expected in PostgreSQL. */
  rejectedOrders?: number;
  /**
   * Source rows the sync cannot take (a key that is no usable integer or repeats, a required value
   * missing), and how many of them the last sync recorded in rejects: the two must agree.
   */
  rejectedRows?: { source: number; recorded: number };
  error?: string;
}

const tableCheck = (compared: TableComparison): TableCheck => ({
  source: compared.source,
  target: compared.target,
  differences: compared.differences,
  ok: compared.differences === 0,
});

/**
 * Per bot: every value bot-sync writes of every trade, order, pair lock, custom data, balance
 * and key-value row, SQLite against PostgreSQL, and its registry row against its config.json.
 * `showDifferences`: how many differing values each bot's check keeps to show (all are counted).
 */
export async function verifyBots(
  config: Config,
  pg: PgPool,
  only?: readonly string[],
  showDifferences: number = DEFAULT_SHOWN_DIFFERENCES,
): Promise<BotCheck[]> {
  const bots = only && only.length > 0 ? only : await activeBots(pg);
  const checks: BotCheck[] = [];
  for (const bot of bots) {
    try {
      const file = await findBotDatabaseFile(config, bot);
      const botId = await botIdOf(pg, bot);
      const log = new DifferenceLog(showDifferences);
      const source = BotDatabase.open(bot, file, config.SQLITE_BUSY_TIMEOUT);
      let trades: TableComparison;
      let orders: TableComparison | undefined;
      const others = new Map<TableMapping, TableComparison>();
      try {
        const chunk = config.SYNC_BATCH_SIZE;
        trades = await compareTable(source, pg, botId, tradesMapping, chunk, log);
        const tradeKeys = trades.keys.toSet();
        orders = source.orders
          ? await compareTable(source, pg, botId, ordersMapping, chunk, log, (row) =>
              row.parent === null ? false : tradeKeys.has(row.parent),
            )
          : undefined;
        for (const mapping of source.others)
          others.set(mapping, await compareTable(source, pg, botId, mapping, chunk, log));
      } finally {
        source.close();
      }
      const ordersCheck = orders ? tableCheck(orders) : await rowsWithoutSource(pg, botId, ordersMapping, log);
      const otherTables: Record<string, TableCheck> = {};
      for (const mapping of otherMappings) {
        const compared = others.get(mapping);
        otherTables[mapping.target] = compared
          ? tableCheck(compared)
          : await rowsWithoutSource(pg, botId, mapping, log);
      }
      const registry = await compareRegistryRow(config, pg, bot, log, trades.differences === 0);
      const rejectedRows = {
        source: [trades, orders, ...others.values()].reduce((n, t) => n + (t?.rejectedRows ?? 0), 0),
        recorded: await recordedRowRejects(pg, bot),
      };
      checks.push({
        bot,
        ok: log.empty && rejectedRows.source === rejectedRows.recorded,
        trades: tableCheck(trades),
        orders: ordersCheck,
        otherTables,
        registry,
        differences: { total: log.total, first: log.first },
        rejectedOrders: orders?.orphans ?? 0,
        rejectedRows,
      });
    } catch (error) {
      checks.push({ bot, ok: false, error: errorMessage(error) });
    }
  }
  return checks;
}

/** A table the FreqTrade database lacks (orders before 2020.12, ...): PostgreSQL should hold none of the bot's rows of it. */
async function rowsWithoutSource(
  pg: PgPool,
  botId: string | undefined,
  mapping: TableMapping,
  log: DifferenceLog,
): Promise<TableCheck> {
  const key = quoteIdent(mapping.key.target);
  const { rows } =
    botId === undefined
      ? { rows: [] }
      : await pg.query<{ key: number }>(
          `SELECT ${key} AS key FROM ${quoteIdent(mapping.target)} WHERE bot_id = $1 ORDER BY ${key}`,
          [botId],
        );
  for (const row of rows)
    log.add({
      table: mapping.target,
      key: `${mapping.key.target}=${row.key}`,
      column: '(row)',
      source: null,
      stored: 'present',
    });
  return { source: { count: 0 }, target: { count: rows.length }, differences: rows.length, ok: rows.length === 0 };
}
