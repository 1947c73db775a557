import type { Config } from '../../config.js';
import { findBotDatabase } from '../../bots/bot-instances.js';
import { openBotDatabase, type SqliteDb } from '../../connections/sqlite.js';
import { PermanentJobError, errorMessage } from '../../errors.js';

/** The bot's FreqTrade database file, or a permanent error saying where it was looked for. */
export async function findSourceFile(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  instance: string,
): Promise<string> {
  const file = await findBotDatabase(config, instance);
  if (file === undefined) {
    throw new PermanentJobError(`bot ${instance}: no ${config.BOT_DB_FILENAMES.join(' or ')} in its user_data/ folder`);
  }
  return file;
}

/** The bot's database, read-only, with every integer read as a bigint (no lost digits). */
export function openSourceDatabase(instance: string, file: string): SqliteDb {
  let db: SqliteDb | undefined;
  try {
    db = openBotDatabase(file);
    db.defaultSafeIntegers(true);
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (error) {
    db?.close();
    const code = (error as { code?: unknown }).code;
    const message = `bot ${instance}: cannot read ${file}: ${errorMessage(error)}`;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new Error(message, { cause: error });
    throw new PermanentJobError(message, { cause: error });
  }
}
