import Database from 'better-sqlite3';

export type SqliteDb = Database.Database;

/**
 * Opens a bot's FreqTrade database read-only. `fileMustExist` keeps a typo from creating an
 * empty database; a busy timeout lets a read wait briefly for FreqTrade's writer instead of failing.
 */
export function openBotDatabase(path: string, options: { busyTimeoutMs?: number } = {}): SqliteDb {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs ?? 5000 });
  db.defaultSafeIntegers(false);
  return db;
}
