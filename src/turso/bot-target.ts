import type { Client } from '@libsql/client';
import type { Config } from '../config.js';
import { createLibsqlClient } from '../connections/libsql.js';
import { PermanentJobError } from '../errors.js';
import { readSyncConfig, syncConfigPath, type SyncConfig } from './sync-config.js';
import { displayTarget, targetError } from './target-errors.js';
import { resolveTargetLocation, TargetRefusedError } from './target-location.js';
import { claimTarget } from './target-owner.js';

/** A bot's libSQL target as its sync-config.json describes it. The token stays in here. */
export interface BotTarget {
  instance: string;
  configFile: string;
  sync: SyncConfig;
  /** The URL fit for logs and results (a file target: its resolved path). */
  display: string;
  client: Client;
  /** Wraps a failure of the target into an error naming the bot and file, without the token. */
  fail: (error: unknown, action: string) => Error;
}

/**
 * Reads <instance>/sync-config.json (in the worker: jobs carry only the instance), checks the
 * target against the location rules (target-location.ts) and its owner (target-owner.ts), and
 * opens the client. `push` may create a new file target; `restore` only reads an existing one.
 */
export async function openBotTarget(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'TURSO_FILE_DIR'>,
  instance: string,
  mode: 'push' | 'restore' = 'push',
): Promise<BotTarget> {
  const configFile = syncConfigPath(config, instance);
  const sync = await readSyncConfig(config, instance);
  if (sync === undefined)
    throw new PermanentJobError(
      `bot ${instance}: no ${configFile}, so it has no Turso database to push to or restore from`,
    );
  const location = await resolveTargetLocation(config, { instance, configFile, url: sync.tursoUrl, mode });
  const display = location.kind === 'file' ? `file:${location.file}` : displayTarget(sync.tursoUrl);
  const where = { instance, configFile, url: display, token: sync.tursoToken };
  const fail = (error: unknown, action: string) => targetError(error, { ...where, action });
  let client: Client;
  try {
    client = createLibsqlClient(location.clientUrl, location.kind === 'file' ? undefined : sync.tursoToken);
  } catch (error) {
    throw fail(error, 'opening');
  }
  try {
    await claimTarget(
      client,
      instance,
      location,
      mode,
      (rule) => new TargetRefusedError(instance, configFile, display, rule),
    );
  } catch (error) {
    client.close();
    throw fail(error, 'checking the owner of');
  }
  return { instance, configFile, sync, display, client, fail };
}
