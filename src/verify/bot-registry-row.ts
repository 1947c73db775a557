import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { readBotConfig } from '../bots/bot-config.js';
import { instanceDir } from '../bots/bot-instances.js';
import { latestTradeStrategySql } from '../bots/bot-registry.js';
import { compareJsonMembers } from './bot-rows.js';
import type { DifferenceLog } from './differences.js';

/**
 * A bot's `bots` row against what its config.json says, read by the sync's own reader
 * (bots/bot-config.ts), so verify and the sync cannot disagree on what a file says: `name`,
 * `strategy_name`, `trading_pairs`, `dry_run` and `config` (key by key, as `config.<key>`).
 * A config that names no strategy leaves the row the strategy of the bot's latest synced trade:
 * judged only when the bot's trades compared equal, since a differing trade is named already and
 * its copy is no ground to judge a value derived from it.
 *
 * `status` is not compared: it is what the database file's age said at the sync ('trading'
 * when written in the last 15 minutes), so it goes stale with the clock alone, and a bot that
 * went quiet since its last sync would be a difference though every copied value is right.
 */
export interface RegistryCheck {
  /** Registry values that differ from the config (a missing row counts once). */
  differences: number;
  ok: boolean;
  /** Why the config could not be taken (the sync then stores NULLs, and verify expects them). */
  warning?: string;
}

interface RegistryRow {
  name: string | null;
  strategy_name: string | null;
  trading_pairs: string | null;
  config: string | null;
  dry_run: string | null;
  /** The strategy of the bot's latest synced trade: the row's strategy when the config names none. */
  latest_strategy: string | null;
}

export async function compareRegistryRow(
  config: Pick<Config, 'BOT_INSTANCES_DIR'>,
  pg: PgPool,
  bot: string,
  log: DifferenceLog,
  tradesEqual: boolean,
): Promise<RegistryCheck> {
  const { facts, warning } = await readBotConfig(instanceDir(config, bot));
  const { rows } = await pg.query<RegistryRow>(
    `SELECT name, strategy_name, trading_pairs::text AS trading_pairs, config::text AS config,
            dry_run::text AS dry_run, (${latestTradeStrategySql('bots.id')}) AS latest_strategy
     FROM bots WHERE instance_id = $1`,
    [bot],
  );
  const key = `instance_id=${bot}`;
  let differences = 0;
  const differ = (column: string, source: string | null, stored: string | null): void => {
    differences += 1;
    log.add({ table: 'bots', key, column, source, stored });
  };
  const row = rows[0];
  if (row === undefined) {
    differ('(row)', 'present', null);
  } else {
    // What registerBot writes: the name falls back to the instance, the strategy to the latest trade's.
    const expected = {
      name: facts.name ?? bot,
      strategy_name: facts.strategy ?? row.latest_strategy,
      dry_run: facts.dryRun === undefined ? null : String(facts.dryRun),
    };
    for (const [column, value] of Object.entries(expected)) {
      if (column === 'strategy_name' && facts.strategy === undefined && !tradesEqual) continue;
      const stored = row[column as keyof typeof expected];
      if (value !== stored) differ(column, value, stored);
    }
    const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
    compareJsonMembers('trading_pairs', json(facts.pairs), row.trading_pairs, differ);
    compareJsonMembers('config', json(facts.config), row.config, differ);
  }
  return { differences, ok: differences === 0, ...(warning === undefined ? {} : { warning }) };
}
