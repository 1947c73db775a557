import type { Client } from '@libsql/client';
import type { Config } from '../../config.js';
import { createLibsqlClient } from '../../connections/libsql.js';
import { PermanentJobError } from '../../errors.js';
import { readSyncConfig, syncConfigPath, type SyncConfig } from './sync-config.js';
import { displayTarget, targetError } from './target-errors.js';

/** A bot's libSQL target as its sync-config.json describes it. The token stays in here. */
export interface BotTarget {
  instance: string;
  configFile: string;
  sync: SyncConfig;
  /** The URL fit for logs and results. */
  display: string;
  client: Client;
  /** Wraps a failure of the target into an error naming the bot and file, without the token. */
  fail: (error: unknown, action: string) => Error;
}

/** Reads <instance>/sync-config.json (in the worker: jobs carry only the instance) and opens the client. */
export async function openBotTarget(config: Pick<Config, 'BOT_INSTANCES_DIR'>, instance: string): Promise<BotTarget> {
  const configFile = syncConfigPath(config, instance);
  const sync = await readSyncConfig(config, instance);
  if (sync === undefined)
    throw new PermanentJobError(
      `bot ${instance}: no ${configFile}, so it has no Turso database to push to or restore from`,
    );
  const where = { instance, configFile, url: sync.tursoUrl, token: sync.tursoToken };
  const fail = (error: unknown, action: string) => targetError(error, { ...where, action });
  let client: Client;
  try {
    client = createLibsqlClient(sync.tursoUrl, sync.tursoToken);
  } catch (error) {
    throw fail(error, 'opening');
  }
  return { instance, configFile, sync, display: displayTarget(sync.tursoUrl), client, fail };
}
