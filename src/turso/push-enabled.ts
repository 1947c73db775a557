import type { Config } from '../config.js';
import { readSyncConfig } from './sync-config.js';

/**
 * For the scheduler: whether the bot's sync-config.json exists and enables Turso pushes.
 * A malformed file throws SyncConfigError (naming the file), so the scheduler can report it.
 */
export async function tursoPushEnabled(config: Pick<Config, 'BOT_INSTANCES_DIR'>, instance: string): Promise<boolean> {
  const sync = await readSyncConfig(config, instance);
  return sync?.enabled === true;
}
