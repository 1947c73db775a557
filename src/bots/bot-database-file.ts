import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import type { Config } from '../config.js';
import { PermanentJobError } from '../errors.js';
import { findBotDatabase, instanceDir } from './bot-instances.js';
import { RACY_MS } from './file-version.js';

/**
 * A bot's FreqTrade database file, as every flow that reads one sees it (bot-sync, turso-push,
 * verify): where it is, how it is opened, its fingerprint, and what went wrong with it.
 */
export type SqliteDb = Database.Database;

/** What can be wrong with a bot's database file; `locked` alone is worth a retry. */
export type BotDatabaseProblem = 'missing' | 'not-a-database' | 'corrupt' | 'shm-unavailable' | 'unreadable' | 'locked';

/** A problem with the file that a retry cannot fix. */
export class BotDatabaseFileError extends PermanentJobError {
  constructor(
    message: string,
    readonly problem: Exclude<BotDatabaseProblem, 'locked'>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BotDatabaseFileError';
  }
}

/** Another process holds a lock on the file; it will let go, so the job retries. */
export class BotDatabaseLockedError extends Error {
  readonly problem = 'locked';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BotDatabaseLockedError';
  }
}

/** The bot's database file, or a permanent error saying where it was looked for. */
export async function findBotDatabaseFile(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  bot: string,
): Promise<string> {
  const file = await findBotDatabase(config, bot);
  if (file === undefined) {
    throw new BotDatabaseFileError(
      `bot ${bot}: no ${config.BOT_DB_FILENAMES.join(' or ')} in ${instanceDir(config, bot)}/user_data`,
      'missing',
    );
  }
  return file;
}

/**
 * Opens the bot's database read-only: `fileMustExist` keeps a typo from creating an empty
 * database; the busy timeout lets a read wait briefly for FreqTrade's writer; integers are read
 * as bigints (no lost digits); `trusted_schema = OFF` keeps a hostile file's views and triggers
 * from calling functions. The schema is read at once, so a file that is no database fails here.
 */
export function openBotDatabaseFile(bot: string, file: string, options: { busyTimeoutMs: number }): SqliteDb {
  let db: SqliteDb | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs });
    db.defaultSafeIntegers(true);
    db.pragma('trusted_schema = OFF');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (error) {
    db?.close();
    throw describeBotDatabaseError(bot, file, error);
  }
}

/** SQLite's (extended) result codes of a WAL database whose shared-memory file cannot be used. */
const SHM_CODES = new Set([
  'SQLITE_IOERR_SHMOPEN',
  'SQLITE_IOERR_SHMSIZE',
  'SQLITE_IOERR_SHMMAP',
  'SQLITE_IOERR_SHMLOCK',
  'SQLITE_READONLY_CANTINIT',
  'SQLITE_READONLY_RECOVERY',
]);

function sqliteCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
}

/** Which problem an error of SQLite (or of the file system) reading the file is, by its code. */
function classifyBotDatabaseError(file: string, error: unknown): BotDatabaseProblem | undefined {
  const code = sqliteCode(error);
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') return 'locked';
  if (code === 'SQLITE_NOTADB') return 'not-a-database';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_IOERR_SHORT_READ') return 'corrupt';
  if (SHM_CODES.has(code)) return 'shm-unavailable';
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOENT') {
    // The file is there and so is its WAL: what could not be opened is the -shm beside them.
    if (existsSync(file) && existsSync(`${file}-wal`)) return 'shm-unavailable';
    return existsSync(file) ? 'unreadable' : 'missing';
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || code === 'EACCES')
    return 'unreadable';
  return undefined;
}

/** The error to throw for a failure reading the bot's database, naming the bot and the file. */
export function describeBotDatabaseError(bot: string, file: string, error: unknown): Error {
  if (error instanceof BotDatabaseFileError || error instanceof BotDatabaseLockedError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const where = `bot ${bot}: ${file}`;
  const cause = { cause: error };
  switch (classifyBotDatabaseError(file, error)) {
    case 'locked':
      return new BotDatabaseLockedError(`${where} is locked by another process (${detail}); will retry`, cause);
    case 'not-a-database':
      return new BotDatabaseFileError(`${where} is not a SQLite database (${detail})`, 'not-a-database', cause);
    case 'corrupt':
      return new BotDatabaseFileError(`${where} is corrupt or truncated (${detail})`, 'corrupt', cause);
    case 'shm-unavailable':
      return new BotDatabaseFileError(
        `${where} is a WAL database whose shared-memory file ${file}-shm cannot be opened or created (${detail}); ` +
          'let this process read and write that file (or its folder), or checkpoint the WAL',
        'shm-unavailable',
        cause,
      );
    case 'missing':
      return new BotDatabaseFileError(`${where} cannot be opened: the file is gone (${detail})`, 'missing', cause);
    case 'unreadable':
      return new BotDatabaseFileError(`${where} cannot be opened (${detail})`, 'unreadable', cause);
    default:
      if (error instanceof PermanentJobError) return error;
      return new Error(`${where}: ${detail}`, cause);
  }
}

interface FileStamp {
  text: string;
  size: bigint;
  mtimeMs: number;
}

async function fileStamp(file: string): Promise<FileStamp | undefined> {
  const info = await stat(file, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info === undefined) return undefined;
  return { text: `${info.size}:${info.mtimeNs}:${info.ino}`, size: info.size, mtimeMs: Number(info.mtimeMs) };
}

async function changeCounter(file: string): Promise<number> {
  const header = Buffer.alloc(100);
  const handle = await open(file, 'r');
  try {
    await handle.read(header, 0, 100, 0);
  } finally {
    await handle.close();
  }
  return header.readUInt32BE(24);
}

/**
 * What the bot's database looks like from outside, cheaply: size, modification time (ns) and
 * inode of the file and its WAL, and SQLite's header change counter (bumped by every commit in
 * rollback-journal mode). Any write FreqTrade makes changes one of them, unless it lands within
 * the file system's timestamp granularity of the last change without changing a size: so a file
 * changed less than RACY_MS ago gives undefined (not trusted), and the caller reads the rows.
 * Undefined too when the file is gone (opening it then says why).
 */
export async function fingerprintBotDatabase(file: string, now = Date.now()): Promise<string | undefined> {
  const main = await fileStamp(file);
  if (main === undefined) return undefined;
  // An empty WAL holds nothing (a reader creates one): it counts as no WAL.
  const walStamp = await fileStamp(`${file}-wal`);
  const wal = walStamp !== undefined && walStamp.size > 0n ? walStamp : undefined;
  if (now - main.mtimeMs < RACY_MS || (wal !== undefined && now - wal.mtimeMs < RACY_MS)) return undefined;
  const counter = await changeCounter(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (counter === undefined) return undefined;
  return `${main.text}|${wal?.text ?? '-'}|${counter}`;
}

/** Which file this is (device and inode): another file put in its place has another identity. */
export async function botDatabaseIdentity(file: string): Promise<string | undefined> {
  const info = await stat(file, { bigint: true }).catch(() => undefined);
  return info === undefined ? undefined : `device ${info.dev} inode ${info.ino}`;
}
