import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { findBotDatabaseFile, openBotDatabaseFile } from '../bots/bot-database-file.js';
import { errorMessage } from '../errors.js';
import { openBotTarget } from '../turso/target.js';
import { RowCursor, sourcePager, targetPager, type KeyedRow } from '../turso/row-readers.js';
import { displayKey, rowDigest, type SqlValue } from '../turso/row-values.js';
import { DEFAULT_SHOWN_DIFFERENCES, DifferenceLog, type ValueDifference } from './differences.js';
import { readSyncConfig } from '../bots/sync-config.js';
import { readSourceTables, type TableSchema } from '../turso/table-schema.js';

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
  /** The first values that differ over the bot's tables (table, key, column, both values) and how many in all. */
  differences?: { total: number; first: ValueDifference[] };
  error?: string;
}

/** Count and checksum of one side, fed row by row. */
class SideDigest {
  private readonly hash = createHash('md5');
  private count = 0;
  add(row: KeyedRow): void {
    this.hash.update(row.key).update(row.hash);
    this.count += 1;
  }
  result(): TursoTableSide {
    return { count: this.count, checksum: this.hash.digest('hex') };
  }
}

/** A SQLite value as an operator reads it; a REAL that holds an integer keeps its type visible (5.0, not 5). */
function shownValue(value: SqlValue): string | null {
  if (value === null) return null;
  if (typeof value === 'bigint' || typeof value === 'string') return String(value);
  if (typeof value === 'number') return Number.isInteger(value) ? value.toFixed(1) : String(value);
  return `x'${Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString('hex')}'`;
}

/**
 * Both sides of one table merged in key order (the keyset pagers push uses, a page of each in
 * memory): counts and checksums as before, and each row on one side only or each differing
 * value named by key and column.
 */
async function compareTable(
  table: TableSchema,
  source: RowCursor<KeyedRow>,
  target: RowCursor<KeyedRow> | undefined,
  differences: DifferenceLog,
): Promise<{ source: TursoTableSide; target: TursoTableSide | undefined }> {
  const sourceDigest = new SideDigest();
  const targetDigest = new SideDigest();
  const keyName = table.primaryKey.length > 0 ? table.primaryKey.join(', ') : 'rowid';
  const key = (row: KeyedRow) => `${keyName}=${displayKey(row.keyValues)}`;
  const missing = (row: KeyedRow, onSource: boolean) =>
    differences.add({
      table: table.name,
      key: key(row),
      column: '(row)',
      source: onSource ? 'present' : null,
      stored: onSource ? null : 'present',
    });
  for (;;) {
    const [s, t] = [await source.peek(), target === undefined ? undefined : await target.peek()];
    if (s === undefined && t === undefined) break;
    const order = s === undefined ? 1 : t === undefined ? -1 : Buffer.compare(s.key, t.key);
    if (order < 0) {
      const row = (await source.next())!;
      sourceDigest.add(row);
      if (target !== undefined) missing(row, true);
    } else if (order > 0) {
      const row = (await target!.next())!;
      targetDigest.add(row);
      missing(row, false);
    } else {
      const [sourceRow, targetRow] = [(await source.next())!, (await target!.next())!];
      sourceDigest.add(sourceRow);
      targetDigest.add(targetRow);
      if (sourceRow.hash.equals(targetRow.hash)) continue;
      table.columns.forEach((column, i) => {
        const [a, b] = [sourceRow.values[i] ?? null, targetRow.values[i] ?? null];
        if (rowDigest([a]).equals(rowDigest([b]))) return;
        differences.add({
          table: table.name,
          key: key(sourceRow),
          column,
          source: shownValue(a),
          stored: shownValue(b),
        });
      });
    }
  }
  return { source: sourceDigest.result(), target: target === undefined ? undefined : targetDigest.result() };
}

/**
 * Per bot with a Turso backup: every table of its SQLite against the Turso copy, row for row
 * (the same key order and row hashes as turso-push), a page at a time, each differing value named. Bots without a
 * sync-config.json, or with pushes disabled, are left out and listed in `skipped`.
 */
export async function verifyTurso(
  config: Config,
  bots: readonly string[],
  shownDifferences: number = DEFAULT_SHOWN_DIFFERENCES,
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
      const differences = new DifferenceLog(shownDifferences);
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
          const sourceRows = new RowCursor(sourcePager(db, table), `${bot} source table ${table.name}`);
          const targetRows = present.has(table.name.toLowerCase())
            ? new RowCursor(targetPager(target.client, table), `${bot} Turso table ${table.name}`)
            : undefined;
          const { source, target: copy } = await compareTable(table, sourceRows, targetRows, differences);
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
      check.differences = { total: differences.total, first: differences.first };
    } catch (error) {
      check.error = errorMessage(error);
    }
    checks.push(check);
  }
  return { checks, skipped };
}
