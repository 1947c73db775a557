import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { findBotDatabaseFile } from '../bots/bot-database-file.js';
import { activeBots } from '../bots/bot-registry.js';
import { errorMessage } from '../errors.js';
import { recordedRowRejects, sourceChecksums, targetChecksums, type TableSide } from './bot-checksums.js';

export interface TableCheck {
  source: TableSide;
  target: TableSide;
  ok: boolean;
}

export interface BotCheck {
  bot: string;
  ok: boolean;
  trades?: TableCheck;
  orders?: TableCheck;
  /** Orders of a trade that does not exist: recorded in rejects by the sync, not expected in PostgreSQL. */
  rejectedOrders?: number;
  /**
   * Source rows the sync cannot take (a key that is no usable integer or repeats, a required value
   * missing), and how many of them the last sync recorded in rejects: the two must agree.
   */
  rejectedRows?: { source: number; recorded: number };
  error?: string;
}

const compare = (source: TableSide, target: TableSide): TableCheck => ({
  source,
  target,
  ok: source.count === target.count && source.checksum === target.checksum,
});

/** Per bot: SQLite vs PostgreSQL counts and checksums of trades and orders. */
export async function verifyBots(config: Config, pg: PgPool, only?: readonly string[]): Promise<BotCheck[]> {
  const bots = only && only.length > 0 ? only : await activeBots(pg);
  const checks: BotCheck[] = [];
  for (const bot of bots) {
    try {
      const file = await findBotDatabaseFile(config, bot);
      const source = sourceChecksums(bot, file, config.SQLITE_BUSY_TIMEOUT);
      const target = await targetChecksums(pg, bot);
      const trades = compare(source.trades, target.trades);
      const orders = compare(source.orders, target.orders);
      const rejectedRows = { source: source.rejectedRows, recorded: await recordedRowRejects(pg, bot) };
      checks.push({
        bot,
        ok: trades.ok && orders.ok && rejectedRows.source === rejectedRows.recorded,
        trades,
        orders,
        rejectedOrders: source.orphanOrders,
        rejectedRows,
      });
    } catch (error) {
      checks.push({ bot, ok: false, error: errorMessage(error) });
    }
  }
  return checks;
}
