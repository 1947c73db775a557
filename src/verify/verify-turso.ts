import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { findBotDatabaseFile, openBotDatabaseFile } from '../bots/bot-database-file.js';
import { errorMessage } from '../errors.js';
import { openBotTarget } from '../turso/target.js';
import { RowCursor, sourcePager, targetPager, type KeyedRow, type Pager } from '../turso/row-readers.js';
import { readSyncConfig } from '../turso/sync-config.js';
import { readSourceTables } from '../turso/table-schema.js';

/** Count and checksum of one table: MD5 over every row's key and values, in key order. */
export interface TursoTableSide {
  count: number;
  checksum: string;
}

export interface TursoTableCheck {
  table: string;
  source: TursoTableSide;
  /** Undefined when the Turso copy lacks the table. */
  target: TursoTableSide | undefined;
  ok: boolean;
}

export interface TursoCheck {
  bot: string;
  /** The bot's Turso database (no token). */
  target?: string;
  ok: boolean;
  tables: TursoTableCheck[];
  error?: string;
}

async function tableSide(pager: Pager<KeyedRow>, what: string): Promise<TursoTableSide> {
  const cursor = new RowCursor(pager, what);
  const hash = createHash('md5');
  let count = 0;
  for (let row = await cursor.next(); row !== undefined; row = await cursor.next()) {
    hash.update(row.key).update(row.hash);
    count += 1;
  }
  return { count, checksum: hash.digest('hex') };
}

/**
 * Per bot with a Turso backup: every table of its SQLite against the Turso copy, row for row
 * (the same key order and row hashes as turso-push), a page at a time. Bots without a
 * sync-config.json, or with pushes disabled, are left out and listed in `skipped`.
 */
export async function verifyTurso(
  config: Config,
  bots: readonly string[],
): Promise<{ checks: TursoCheck[]; skipped: string[] }> {
  const checks: TursoCheck[] = [];
  const skipped: string[] = [];
  for (const bot of bots) {
    let check: TursoCheck = { bot, ok: false, tables: [] };
    try {
      const sync = await readSyncConfig(config, bot);
      if (sync === undefined || !sync.enabled) {
        skipped.push(`turso ${bot} (${sync === undefined ? 'no sync-config.json' : 'pushes disabled'})`);
        continue;
      }
      const target = await openBotTarget(config, bot);
      check = { ...check, target: target.display };
      const file = await findBotDatabaseFile(config, bot);
      const db = openBotDatabaseFile(bot, file, { busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT });
      try {
        const present = new Set(
          (await target.client.execute("SELECT name FROM sqlite_master WHERE type = 'table'")).rows.map((row) =>
            String(row[0]).toLowerCase(),
          ),
        );
        for (const table of readSourceTables(db)) {
          const source = await tableSide(sourcePager(db, table), `${bot} source table ${table.name}`);
          const copy = present.has(table.name.toLowerCase())
            ? await tableSide(targetPager(target.client, table), `${bot} Turso table ${table.name}`)
            : undefined;
          const ok = copy !== undefined && copy.count === source.count && copy.checksum === source.checksum;
          check.tables.push({ table: table.name, source, target: copy, ok });
        }
      } catch (error) {
        throw target.fail(error, 'verifying');
      } finally {
        db.close();
        target.client.close();
      }
      check.ok = check.tables.every((t) => t.ok);
    } catch (error) {
      check.error = errorMessage(error);
    }
    checks.push(check);
  }
  return { checks, skipped };
}
