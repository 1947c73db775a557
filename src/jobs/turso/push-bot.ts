import type { Client } from '@libsql/client';
import type { Config } from '../../config.js';
import {
  BotDatabaseLockedError,
  findBotDatabaseFile,
  fingerprintBotDatabase,
  openBotDatabaseFile,
  type SqliteDb,
} from '../../bots/bot-database-file.js';
import { PermanentJobError } from '../../errors.js';
import { BatchWriter } from './batch-writer.js';
import { openBotTarget, type BotTarget } from './bot-target.js';
import {
  loadPushState,
  markPushStarted,
  savePushState,
  type LoadedState,
  type PushState,
  type TableHashes,
} from './push-state.js';
import { hashSourceTable, hashTargetTable, sourceRowReader } from './row-hashes.js';
import { decodeKey, rowHash } from './sql-values.js';
import { quoteIdent, readSourceTables, type TableSchema } from './table-schema.js';
import { ensureTargetSchema } from './target-schema.js';

export interface PushResult {
  tables: number;
  pushed: number;
  deleted: number;
  unchanged: number;
  /** Approximate bytes of values and SQL sent. */
  bytes: number;
  ms: number;
  target: string;
  /** True when the target's rows were read to compare (no trustworthy metadata). */
  fullCompare: boolean;
  /** Set when nothing was attempted, with why (the bot's sync-config.json disables pushes). */
  skipped?: string;
}

export interface PushOptions {
  config: Pick<
    Config,
    | 'BOT_INSTANCES_DIR'
    | 'BOT_DB_FILENAMES'
    | 'SQLITE_BUSY_TIMEOUT'
    | 'TURSO_STATE_DIR'
    | 'TURSO_BATCH_BYTES'
    | 'TURSO_FILE_DIR'
  >;
  instance: string;
  signal: AbortSignal;
  log: (line: string) => Promise<void>;
  progress: (value: Record<string, number>) => Promise<void>;
}

interface TablePlan {
  table: TableSchema;
  current: TableHashes;
  changed: string[];
  deleted: string[];
}

/** Pushes one bot's SQLite to its libSQL database: only new and changed rows, and deletions. */
export async function pushBot(options: PushOptions): Promise<PushResult> {
  const started = performance.now();
  const target = await openBotTarget(options.config, options.instance);
  try {
    const empty = {
      tables: 0,
      pushed: 0,
      deleted: 0,
      unchanged: 0,
      bytes: 0,
      target: target.display,
      fullCompare: false,
    };
    if (!target.sync.enabled) {
      await options.log(`bot ${options.instance}: pushes disabled in ${target.configFile}; nothing done`);
      return { ...empty, ms: Math.round(performance.now() - started), skipped: 'disabled in sync-config.json' };
    }
    const file = await findBotDatabaseFile(options.config, options.instance);
    try {
      const fingerprint = await fingerprintBotDatabase(file);
      const loaded = await loadPushState(options.config, options.instance, target.display);
      if (loaded.state && fingerprint !== undefined && loaded.state.source === fingerprint) {
        const rows = await unchangedRowCount(target.client, loaded.state);
        if (rows !== undefined) {
          const ms = Math.round(performance.now() - started);
          await options.log(
            `bot ${options.instance}: database file unchanged since the last push and ${target.display} holds its ${rows} rows; nothing to push`,
          );
          return { ...empty, tables: loaded.state.tables.size, unchanged: rows, ms };
        }
      }
      const db = openBotDatabaseFile(options.instance, file, { busyTimeoutMs: options.config.SQLITE_BUSY_TIMEOUT });
      try {
        return await pushTables(options, target, db, loaded, fingerprint, started);
      } finally {
        db.close();
      }
    } catch (error) {
      // The bot's own file failing is no fault of the target: its error says so as it is.
      if (error instanceof PermanentJobError || error instanceof BotDatabaseLockedError || options.signal.aborted)
        throw error;
      throw target.fail(error, 'pushing to');
    }
  } finally {
    target.client.close();
  }
}

/**
 * When the source file has not changed since the last push, the target only needs to still hold
 * what that push left: the row count of every table. Undefined when it does not (or cannot say).
 */
async function unchangedRowCount(client: Client, state: PushState): Promise<number | undefined> {
  const names = [...state.tables.keys()];
  if (names.length === 0) return undefined;
  const counts = await client
    .batch(
      names.map((name) => `SELECT count(*) FROM ${quoteIdent(name)}`),
      'read',
    )
    .catch(() => undefined);
  if (counts === undefined) return undefined;
  let rows = 0;
  for (const [i, name] of names.entries()) {
    const expected = state.tables.get(name)!.size;
    if (Number(counts[i]?.rows[0]?.[0] ?? -1) !== expected) return undefined;
    rows += expected;
  }
  return rows;
}

async function pushTables(
  options: PushOptions,
  target: BotTarget,
  source: SqliteDb,
  loaded: LoadedState,
  fingerprint: string | undefined,
  started: number,
): Promise<PushResult> {
  const { config, instance, signal, log } = options;
  const tables = readSourceTables(source);
  // One read transaction: every table's hashes describe the same moment of the bot's database.
  const current = source.transaction(() => new Map(tables.map((t) => [t.name, hashSourceTable(source, t)])))();
  signal.throwIfAborted();

  const schema = await ensureTargetSchema(target.client, tables);
  if (schema.created.length > 0) await log(`created tables ${schema.created.join(', ')} in ${target.display}`);
  if (schema.addedColumns.length > 0) await log(`added columns ${schema.addedColumns.join(', ')} in ${target.display}`);

  const previous = new Map<string, TableHashes>();
  let fullCompare = loaded.state === undefined;
  if (loaded.state === undefined) await log(`full compare with ${target.display}: ${loaded.why}`);
  const counts = loaded.state ? await targetCounts(target.client, tables) : undefined;
  for (const [i, table] of tables.entries()) {
    const recorded = loaded.state?.tables.get(table.name);
    if (recorded !== undefined && counts?.[i] === recorded.size) {
      previous.set(table.name, recorded);
    } else if (schema.existing.has(table.name)) {
      // No record of this table, or the target's row count disagrees with it: read the target.
      if (loaded.state)
        await log(
          `${table.name}: target holds ${counts?.[i]} rows, metadata ${recorded?.size ?? 'none'}: comparing with the target`,
        );
      fullCompare = true;
      previous.set(table.name, await hashTargetTable(target.client, table, signal));
    } else {
      previous.set(table.name, new Map());
    }
  }

  const plans: TablePlan[] = tables.map((table) => diff(table, current.get(table.name)!, previous.get(table.name)!));
  const total = plans.reduce((sum, p) => sum + p.changed.length + p.deleted.length, 0);
  const unchanged = plans.reduce((sum, p) => sum + p.current.size - p.changed.length, 0);
  for (const p of plans)
    await log(`${p.table.name}: ${p.current.size} rows, ${p.changed.length} to push, ${p.deleted.length} to delete`);

  const stats = { done: 0, pushed: 0, deleted: 0, bytes: 0, batches: 0 };
  const state: PushState = {
    target: target.display,
    pushedAt: new Date().toISOString(),
    source: fingerprint,
    tables: current,
  };
  if (total === 0) {
    if (fullCompare || loaded.state?.source !== fingerprint) await savePushState(config, instance, state);
  } else {
    await markPushStarted(config, instance);
    const writer = new BatchWriter(
      target.client,
      config.TURSO_BATCH_BYTES,
      async (ops, bytes) => {
        stats.batches += 1;
        stats.bytes += bytes;
        stats.done += ops.length;
        for (const op of ops) {
          if (op.hash === undefined) stats.deleted += 1;
          else stats.pushed += 1;
        }
        await options.progress({ done: stats.done, total });
      },
      signal,
    );
    // Deletions children first, then rows parents first: a target enforcing foreign keys accepts both.
    for (const plan of [...plans].reverse()) {
      for (const key of plan.deleted)
        await writer.delete(plan.table, decodeKey(key), { table: plan.table.name, key, hash: undefined });
    }
    for (const plan of plans) {
      const read = sourceRowReader(source, plan.table);
      for (const key of plan.changed) {
        const keyValues = decodeKey(key);
        const row = read(keyValues);
        if (row === undefined) {
          // Deleted since the hashes were taken: make sure the target does not keep it.
          plan.current.delete(key);
          await writer.delete(plan.table, keyValues, { table: plan.table.name, key, hash: undefined });
          continue;
        }
        const hash = rowHash(row);
        plan.current.set(key, hash);
        await writer.upsert(plan.table, keyValues, row, { table: plan.table.name, key, hash });
      }
    }
    await writer.flush();
    await savePushState(config, instance, state);
  }
  const ms = Math.round(performance.now() - started);
  await log(
    `pushed ${stats.pushed} rows, deleted ${stats.deleted}, ${unchanged} unchanged, ${stats.batches} batches, ${stats.bytes} bytes to ${target.display} in ${ms} ms`,
  );
  return {
    tables: tables.length,
    pushed: stats.pushed,
    deleted: stats.deleted,
    unchanged,
    bytes: stats.bytes,
    ms,
    target: target.display,
    fullCompare,
  };
}

function diff(table: TableSchema, current: TableHashes, previous: TableHashes): TablePlan {
  const changed: string[] = [];
  for (const [key, hash] of current) if (previous.get(key) !== hash) changed.push(key);
  const deleted: string[] = [];
  for (const key of previous.keys()) if (!current.has(key)) deleted.push(key);
  return { table, current, changed, deleted };
}

async function targetCounts(client: Client, tables: readonly TableSchema[]): Promise<number[]> {
  const results = await client.batch(
    tables.map((t) => `SELECT count(*) FROM ${quoteIdent(t.name)}`),
    'read',
  );
  return results.map((r) => Number(r.rows[0]?.[0] ?? -1));
}
