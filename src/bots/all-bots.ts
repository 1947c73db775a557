import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { scanBotInstances } from './bot-instances.js';
import { hostedBots } from './bot-registry.js';
import { SyncConfigError, tursoPushBots } from './sync-config.js';

/**
 * The bots `--all` means. With BOT_DISCOVERY=hosts, the ones their hosts' discovery recorded
 * (this machine may hold none), else the folders of BOT_INSTANCES_DIR. `tursoPush`: only those
 * whose sync-config.json enables pushes (as recorded, or as read here; a malformed one counts,
 * so its job fails naming the file).
 */
export async function allBots(
  env: { config: Pick<Config, 'BOT_DISCOVERY' | 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>; pg: PgPool },
  { tursoPush = false }: { tursoPush?: boolean } = {},
): Promise<string[]> {
  if (env.config.BOT_DISCOVERY === 'hosts') {
    return (await hostedBots(env.pg)).filter((b) => !tursoPush || b.tursoPush).map((b) => b.instance);
  }
  const bots = (await scanBotInstances(env.config)).bots.map((bot) => bot.name);
  if (!tursoPush) return bots;
  const enabled = await tursoPushBots(env.config, bots, (_bot, error) => error instanceof SyncConfigError);
  return bots.filter((bot) => enabled.has(bot));
}
