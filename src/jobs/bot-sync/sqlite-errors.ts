import { PermanentJobError } from '../../errors.js';

/** What went wrong with a bot's database, in words that name the bot and the file. */
export function describeSqliteFailure(bot: string, file: string, error: unknown): Error {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const detail = error instanceof Error ? error.message : String(error);
  const where = `bot ${bot}: ${file}`;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    // Another process holds a lock; it will let go, so this one is worth retrying.
    return new Error(`${where} is locked by another process (${detail}); will retry`, { cause: error });
  }
  if (code === 'SQLITE_NOTADB')
    return new PermanentJobError(`${where} is not a SQLite database (${detail})`, { cause: error });
  if (code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_IOERR_SHORT_READ')) {
    return new PermanentJobError(`${where} is corrupt or truncated (${detail})`, { cause: error });
  }
  if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_CANTOPEN')) {
    return new PermanentJobError(`${where} cannot be opened (${detail})`, { cause: error });
  }
  if (error instanceof PermanentJobError) return error;
  return new Error(`${where}: ${detail}`, { cause: error });
}
