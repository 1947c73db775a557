import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createClient, type Client } from '@libsql/client';
import { createBotDatabase, type BotDbOptions } from '../../scripts/freqtrade/generate-bot-db.js';
import { FIXTURES_DIR } from '../../scripts/freqtrade/fixtures.js';

/** The real databases of ../shared/fixtures (tests of them skip with FIXTURES_SKIP when absent). */
export const FIXTURES = [
  '2021-35cols-chaserun.sqlite',
  '2022-36cols-jugder.sqlite',
  '2022-44cols-arthurahiyarov.sqlite',
  '2023-50cols-darkospale.dryrun.sqlite',
  '2024-49cols-th2002.dryrun.sqlite',
  '2025-51cols-germoso.sqlite',
] as const;

export interface TestBot {
  name: string;
  dbPath: string;
  targetUrl: string;
  targetPath: string;
}

/**
 * A bot instance folder in `root` holding a generated database (options for createBotDatabase) or
 * a writable copy of a real fixture (its file name; never the original), and a sync-config.json
 * whose target is a libSQL file: URL in `root`.
 */
export async function createTestBot(
  root: string,
  name: string,
  source: BotDbOptions | (typeof FIXTURES)[number],
  sync: { tursoUrl?: string; tursoToken?: string; enabled?: boolean } = {},
): Promise<TestBot> {
  const userData = path.join(root, 'bots', name, 'user_data');
  await mkdir(userData, { recursive: true });
  const dbPath = path.join(userData, 'tradesv3.sqlite');
  if (typeof source === 'string') {
    await copyFile(path.join(FIXTURES_DIR, source), dbPath);
    await chmod(dbPath, 0o644);
  } else {
    createBotDatabase(dbPath, source);
  }
  const targetPath = path.join(root, 'targets', `${name}.db`);
  await mkdir(path.dirname(targetPath), { recursive: true });
  const targetUrl = sync.tursoUrl ?? `file:${targetPath}`;
  await writeSyncConfig(root, name, {
    tursoUrl: targetUrl,
    tursoToken: sync.tursoToken ?? 'test-token-not-secret',
    enabled: sync.enabled ?? true,
  });
  return { name, dbPath, targetUrl, targetPath };
}

export async function writeSyncConfig(root: string, name: string, sync: Record<string, unknown>): Promise<void> {
  await mkdir(path.join(root, 'bots', name), { recursive: true });
  await writeFile(path.join(root, 'bots', name, 'sync-config.json'), JSON.stringify(sync));
}

/** Runs SQL on a bot's source database (what FreqTrade would do between pushes). */
export function editSource(dbPath: string, sql: string): void {
  const db = new Database(dbPath);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

type Cell = string | null;

function cell(value: unknown): Cell {
  if (value === null) return null;
  if (typeof value === 'bigint') return `i${value}`;
  if (typeof value === 'number') return `r${value}`;
  if (typeof value === 'string') return `t${value}`;
  if (value instanceof ArrayBuffer) return `b${Buffer.from(value).toString('hex')}`;
  if (value instanceof Uint8Array) return `b${Buffer.from(value).toString('hex')}`;
  throw new Error(`unexpected value ${String(value)}`);
}

/** Every user table of a SQLite file: its columns and its rows (with rowid, typed, in rowid order). */
export function sqliteTables(file: string): Map<string, { columns: string[]; rows: Cell[][] }> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.defaultSafeIntegers(true);
  try {
    const names = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .all() as Array<{ name: string }>
    ).map((r) => r.name);
    const tables = new Map<string, { columns: string[]; rows: Cell[][] }>();
    for (const name of names) {
      const columns = (db.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string }>).map((c) => c.name);
      const rows = (db.prepare(`SELECT rowid, * FROM "${name}" ORDER BY rowid`).raw(true).all() as unknown[][]).map(
        (row) => row.map(cell),
      );
      tables.set(name, { columns, rows });
    }
    return tables;
  } finally {
    db.close();
  }
}

/**
 * The same view of a libSQL database, read through @libsql/client (intMode bigint). A file: target
 * that does not exist yet is an error, not created: a client would create it empty, and a push
 * refuses a file target it did not create, so a test polling before the first push would break it.
 */
export async function libsqlTables(
  url: string,
  only?: Iterable<string>,
): Promise<Map<string, { columns: string[]; rows: Cell[][] }>> {
  const file = url.startsWith('file:') ? decodeURIComponent(url.slice('file:'.length).replace(/^\/\//, '')) : undefined;
  if (file !== undefined && !existsSync(file)) throw new Error(`${url} does not exist (yet)`);
  const client: Client = createClient({ url, intMode: 'bigint' });
  try {
    const names = only
      ? [...only]
      : (
          await client.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
          )
        ).rows.map((r) => String(r[0]));
    const tables = new Map<string, { columns: string[]; rows: Cell[][] }>();
    for (const name of names) {
      const columns = (await client.execute(`SELECT name FROM pragma_table_info('${name}')`)).rows.map((r) =>
        String(r[0]),
      );
      const rows = (await client.execute(`SELECT rowid, * FROM "${name}" ORDER BY rowid`)).rows.map((row) =>
        Array.from(row).map(cell),
      );
      tables.set(name, { columns, rows });
    }
    return tables;
  } finally {
    client.close();
  }
}

/** A SQLite file's CREATE statements (tables and indexes), by type and name. */
export function sqliteSchema(file: string): Array<{ type: string; name: string; sql: string }> {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
      )
      .all() as Array<{ type: string; name: string; sql: string }>;
  } finally {
    db.close();
  }
}
