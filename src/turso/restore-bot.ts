import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Client, ResultSet } from '@libsql/client';
import type { Config } from '../config.js';
import { PermanentJobError, errorMessage } from '../errors.js';
import { openBotTarget, TARGET_META_TABLE } from './target.js';
import type { SqlValue } from './row-values.js';
import { quoteIdent } from '../sql-identifier.js';

export interface RestoreResult {
  file: string;
  tables: number;
  rows: number;
  ms: number;
  source: string;
}

interface RestoreOptions {
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'TURSO_FILE_DIR'>;
  instance: string;
  to: string;
  signal: AbortSignal;
  log: (line: string) => Promise<void>;
  progress: (value: Record<string, number>) => Promise<void>;
}

const PAGE_ROWS = 2000;

/** Refuses a destination that holds data: a restore never overwrites a database. */
async function assertWritableDestination(instance: string, file: string): Promise<void> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info === undefined) return;
  if (!info.isFile())
    throw new PermanentJobError(`bot ${instance}: turso-restore refuses ${file}: it exists and is not a file`);
  if (info.size > 0)
    throw new PermanentJobError(
      `bot ${instance}: turso-restore refuses to overwrite ${file}: it exists and is not empty`,
    );
}

interface MasterRow {
  type: string;
  name: string;
  sql: string;
}

/**
 * Rebuilds a SQLite file from a bot's libSQL database: the target's own schema, every row with
 * its rowid, then its indexes and triggers. Written to a temporary file renamed at the end, so
 * a failed restore never leaves a half-built database under the requested name.
 */
export async function restoreBot(options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const file = path.resolve(options.to);
  await assertWritableDestination(options.instance, file);
  const target = await openBotTarget(options.config, options.instance, 'restore');
  const temp = `${file}.${randomBytes(4).toString('hex')}.restoring`;
  let db: Database.Database | undefined;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    db = new Database(temp);
    // A scratch file until the rename: no journal needed while it is built.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    const master = await readMaster(target.client);
    const tables = master.filter((m) => m.type === 'table');
    let rows = 0;
    for (const table of tables) db.exec(table.sql);
    for (const [i, table] of tables.entries()) {
      const copied = await copyTable(target.client, db, table, options.signal);
      rows += copied;
      await options.log(`${table.name}: ${copied} rows restored`);
      await options.progress({ done: i + 1, total: tables.length });
    }
    for (const other of master.filter((m) => m.type !== 'table')) db.exec(other.sql);
    db.pragma('journal_mode = DELETE');
    db.close();
    db = undefined;
    await assertWritableDestination(options.instance, file);
    await rename(temp, file);
    const ms = Math.round(performance.now() - started);
    await options.log(`restored ${tables.length} tables, ${rows} rows from ${target.display} into ${file} in ${ms} ms`);
    return { file, tables: tables.length, rows, ms, source: target.display };
  } catch (error) {
    db?.close();
    await rm(temp, { force: true });
    if (error instanceof PermanentJobError || options.signal.aborted) throw error;
    // Local failures (the destination's disk or folder) are reported as such, not as the target's.
    if (error instanceof Database.SqliteError || typeof (error as NodeJS.ErrnoException).errno === 'number') {
      throw new Error(`bot ${options.instance}: turso-restore cannot write ${file}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    throw target.fail(error, 'restoring from');
  } finally {
    target.client.close();
  }
}

/** The target's schema without the pipeline's own metadata table (never part of a bot's database). */
async function readMaster(client: Client): Promise<MasterRow[]> {
  const result = await client.execute(
    `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name <> '${TARGET_META_TABLE}' ` +
      "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
      "AND name NOT LIKE 'libsql\\_%' ESCAPE '\\' AND name NOT LIKE '\\_litestream%' ESCAPE '\\' " +
      "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid",
  );
  return result.rows.map((row) => ({ type: String(row[0]), name: String(row[1]), sql: String(row[2]) }));
}

function toSqlite(value: SqlValue): SqlValue {
  return value instanceof ArrayBuffer ? Buffer.from(value) : value;
}

/** Copies one table page by page (by rowid, or by offset for a WITHOUT ROWID table), keeping rowids. */
async function copyTable(
  client: Client,
  db: Database.Database,
  table: MasterRow,
  signal: AbortSignal,
): Promise<number> {
  if (/^\s*CREATE\s+VIRTUAL\s/i.test(table.sql)) return 0;
  const columns = (await client.execute({ sql: 'SELECT name FROM pragma_table_info(?)', args: [table.name] })).rows.map(
    (r) => quoteIdent(String(r[0])),
  );
  const withoutRowid = /\)\s*WITHOUT\s+ROWID\s*;?\s*$/i.test(table.sql);
  const names = withoutRowid ? columns : ['rowid', ...columns];
  const insert = db.prepare(
    `INSERT INTO ${quoteIdent(table.name)} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
  );
  const insertPage = db.transaction((rows: SqlValue[][]) => {
    for (const row of rows) insert.run(...row.map(toSqlite));
  });
  let copied = 0;
  let after: SqlValue = null;
  for (;;) {
    signal.throwIfAborted();
    const from = `SELECT ${names.join(', ')} FROM ${quoteIdent(table.name)}`;
    const result: ResultSet = withoutRowid
      ? await client.execute(`${from} LIMIT ${PAGE_ROWS} OFFSET ${copied}`)
      : await client.execute(
          after === null
            ? `${from} ORDER BY rowid LIMIT ${PAGE_ROWS}`
            : { sql: `${from} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE_ROWS}`, args: [after] },
        );
    const rows: SqlValue[][] = result.rows.map((row) => Array.from(row) as SqlValue[]);
    insertPage(rows);
    copied += rows.length;
    if (!withoutRowid && rows.length > 0) after = rows[rows.length - 1]![0]!;
    if (rows.length < PAGE_ROWS) return copied;
  }
}
