import type { Client } from '@libsql/client';
import type { Config } from '../config.js';
import {
  botDatabaseIdentity,
  BotDatabaseFileError,
  BotDatabaseLockedError,
  findBotDatabaseFile,
  fingerprintBotDatabase,
  openBotDatabaseFile,
  type SqliteDb,
} from '../bots/bot-database-file.js';
import { botDatabases } from '../bot-sync/bot-database-cache.js';
import { WINDOW_RULES } from '../bots/change-window.js';
import { datesScanSince, indexedHighWater, nextDatesScan } from '../bots/dates-scan.js';
import { planRead, unchangedRun, type RunFacts } from '../bots/run-plan.js';
import type { PoolClient } from 'pg';
import type { PgPool } from '../connections/postgres.js';
import { withTransaction } from '../connections/transaction.js';
import { PermanentJobError } from '../errors.js';
import { BatchWriter, writeChanges } from './push-writer.js';
import { openBotTarget, type BotTarget } from './target.js';
import {
  assertNoReset,
  describePlan,
  openKeys,
  planPushWindows,
  planTable,
  type PlanSides,
  type Previous,
  type TablePlan,
} from './push-plan.js';
import {
  commitGeneration,
  distrust,
  forgetRecordedRows,
  generationStatement,
  loadPushRecord,
  markPushPending,
  newGeneration,
  readTargetGeneration,
  recordedCounts,
  recordFingerprint,
  recordRows,
  recordWindow,
  withPushLock,
  type PushRecord,
} from './push-state.js';
import type { Change } from './row-readers.js';
import { ensureTargetSchema, readSourceTables, type TableSchema } from './table-schema.js';
import { quoteIdent } from '../sql-identifier.js';

export interface PushResult {
  tables: number;
  pushed: number;
  deleted: number;
  unchanged: number;
  /** Approximate bytes of values and SQL sent. */
  bytes: number;
  ms: number;
  target: string;
  /** True when some table was compared with the target's rows (its records were not trusted). */
  fullCompare: boolean;
  /** Set when trades, orders and wallet_history were read by change window: the ids read per table. */
  windows?: Record<string, number>;
  /** Set when nothing was attempted, with why (the bot's sync-config.json disables pushes). */
  skipped?: string;
  /** --dry-run: what the push would do, per table; nothing was written. */
  plan?: TablePlan[];
}

interface PushOptions {
  config: Pick<
    Config,
    | 'BOT_INSTANCES_DIR'
    | 'BOT_DB_FILENAMES'
    | 'SQLITE_BUSY_TIMEOUT'
    | 'SQLITE_HANDLE_CACHE'
    | 'SQLITE_HANDLE_IDLE'
    | 'TURSO_BATCH_BYTES'
    | 'DELETE_GUARD_RATIO'
    | 'TURSO_FILE_DIR'
    | 'FULL_COMPARE_INTERVAL'
    | 'SYNC_WINDOW_MARGIN'
    | 'SYNC_DATE_SCAN_ROWS'
    | 'SYNC_DATE_SCAN_INTERVAL'
  >;
  pg: PgPool;
  instance: string;
  signal: AbortSignal;
  log: (line: string) => Promise<void>;
  progress: (value: Record<string, number>) => Promise<void>;
  /** Plan and report, write nothing (neither the target nor PostgreSQL). */
  dryRun?: boolean;
  /** Push even when it deletes more than DELETE_GUARD_RATIO of the target's rows. */
  acceptReset?: boolean;
  /** Compare every table with the target, whatever the records say. */
  fullCompare?: boolean;
}

/**
 * Pushes one bot's SQLite to its libSQL database: only new and changed rows, and deletions.
 * Holds the bot's push lock throughout (push-state.ts), so two pushes of one bot never interleave.
 */
export function pushBot(options: PushOptions): Promise<PushResult> {
  return withPushLock(options.pg, options.instance, () => pushLocked(options));
}

async function pushLocked(options: PushOptions): Promise<PushResult> {
  const started = performance.now();
  const target = await openBotTarget(options.config, options.instance);
  const result = (fields: Partial<PushResult>): PushResult => ({
    tables: 0,
    pushed: 0,
    deleted: 0,
    unchanged: 0,
    bytes: 0,
    target: target.display,
    fullCompare: false,
    ...fields,
    ms: Math.round(performance.now() - started),
  });
  try {
    if (!target.sync.enabled) {
      await options.log(`bot ${options.instance}: pushes disabled in ${target.configFile}; nothing done`);
      return result({ skipped: 'disabled in sync-config.json' });
    }
    const file = await findBotDatabaseFile(options.config, options.instance);
    try {
      const fingerprint = await fingerprintBotDatabase(file);
      const identity = await botDatabaseIdentity(file);
      const record = await loadPushRecord(options.pg, options.instance);
      const why = options.fullCompare
        ? 'a full compare was asked for'
        : distrust(record, target.display, await readTargetGeneration(target.client));
      const facts: RunFacts = {
        memory: record?.window,
        now: new Date(),
        fingerprint,
        recordedFingerprint: record?.sourceFingerprint,
        identity,
        recordedIdentity: record?.sourceIdentity,
        asked: options.fullCompare === true,
        everyRowBecause: why ?? (options.dryRun ? 'a dry run compares every row' : undefined),
        config: options.config,
      };
      if (unchangedRun(facts)) {
        const rows = await unchangedRowCount(options.pg, options.instance, target.client);
        if (rows !== undefined) {
          await options.log(
            `bot ${options.instance}: database file unchanged since the last push and ${target.display} holds its ${rows.rows} rows; nothing to push`,
          );
          return result({ tables: rows.tables, unchanged: rows.rows });
        }
      }
      const source = await openSource(options, file);
      const { db } = source;
      let succeeded = false;
      try {
        const sides: PlanSides = {
          pg: options.pg,
          instance: options.instance,
          source: db,
          client: target.client,
          signal: options.signal,
        };
        // One read transaction for every pass: all of them see the same snapshot, so a bot writing
        // during the push cannot hand the target an order whose trade was read before it existed.
        db.exec('BEGIN');
        const pushed = await pushTables(options, target, sides, { record, why, fingerprint, file, facts }, result);
        succeeded = true;
        return pushed;
      } finally {
        if (db.inTransaction) db.exec('COMMIT');
        source.done(succeeded);
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
 * The bot's file for one push: the handle this process keeps for the bot between its syncs and
 * pushes (bot-sync/bot-database-cache.ts: its statements prepared, checked out as a fresh open
 * would be, lent to one run at a time), else, for a file bot-sync refuses (its tables not
 * FreqTrade's as bot-sync knows them) but a push copies as it is, a handle of the push's own.
 */
async function openSource(
  options: PushOptions,
  file: string,
): Promise<{ db: SqliteDb; done: (succeeded: boolean) => void }> {
  try {
    const lease = await botDatabases.checkout(options.instance, file, options.config);
    return { db: lease.source.db, done: (succeeded) => botDatabases.release(lease, succeeded) };
  } catch (error) {
    if (!(error instanceof PermanentJobError) || error instanceof BotDatabaseFileError) throw error;
    const db = openBotDatabaseFile(options.instance, file, { busyTimeoutMs: options.config.SQLITE_BUSY_TIMEOUT });
    return { db, done: () => db.close() };
  }
}

/**
 * With an unchanged source file and trusted records, the target only needs to still hold as many
 * rows per table as recorded (a row deleted in the target behind our back shows here). Undefined
 * when it does not (or cannot say).
 */
async function unchangedRowCount(pg: PgPool, instance: string, client: Client) {
  const recorded = await recordedCounts(pg, instance);
  if (recorded.size === 0) return undefined;
  const names = [...recorded.keys()];
  const counts = await client
    .batch(
      names.map((name) => `SELECT count(*) FROM ${quoteIdent(name)}`),
      'read',
    )
    .catch(() => undefined);
  if (counts === undefined) return undefined;
  let rows = 0;
  for (const [i, name] of names.entries()) {
    if (Number(counts[i]?.rows[0]?.[0] ?? -1) !== recorded.get(name)) return undefined;
    rows += recorded.get(name)!;
  }
  return { tables: names.length, rows };
}

interface Trust {
  record: PushRecord | undefined;
  /** Why the records are not trusted; undefined when they are. */
  why: string | undefined;
  fingerprint: string | undefined;
  /** The bot's database file, for messages. */
  file: string;
  /** What the run's plan starts from. */
  facts: RunFacts;
}

async function pushTables(
  options: PushOptions,
  target: BotTarget,
  sides: PlanSides,
  trust: Trust,
  result: (fields: Partial<PushResult>) => PushResult,
): Promise<PushResult> {
  const { pg, instance, log, dryRun = false } = options;
  const tables = readSourceTables(sides.source);
  const schema = await ensureTargetSchema(target.client, tables, { write: !dryRun });
  if (schema.created.length > 0) await log(`created tables ${schema.created.join(', ')} in ${target.display}`);
  if (schema.addedColumns.length > 0) await log(`added columns ${schema.addedColumns.join(', ')} in ${target.display}`);

  // Per table: trusted records, unless the target's row count disagrees with them (rows deleted
  // in the target behind our back); the target's rows when the records are not trusted at all.
  if (trust.why !== undefined) await log(`full compare with ${target.display}: ${trust.why}`);
  const previous = new Map<string, Previous>();
  const counts = trust.why === undefined ? await recordedCounts(pg, instance) : undefined;
  const targetRows = await targetCounts(target.client, tables, schema.existing);
  for (const table of tables) {
    if (!schema.existing.has(table.name)) previous.set(table.name, 'empty');
    else if (counts === undefined) previous.set(table.name, 'target');
    else if ((counts.get(table.name) ?? 0) === targetRows.get(table.name)) previous.set(table.name, 'records');
    else {
      await log(
        `${table.name}: target holds ${targetRows.get(table.name)} rows, records ${counts.get(table.name) ?? 0}: comparing with the target`,
      );
      previous.set(table.name, 'target');
    }
  }
  const rebuilt = tables.filter((t) => previous.get(t.name) !== 'records').map((t) => t.name);

  // Change windows for the tables compared with trusted records, unless every row must be compared.
  const plan = await planRead(trust.facts, {
    db: sides.source,
    tables: Object.keys(WINDOW_RULES),
    scan: async (since) => {
      const record = trust.record!;
      const rows = (counts!.get('trades') ?? 0) + (counts!.get('orders') ?? 0);
      const planned = await planPushWindows(
        pg,
        instance,
        sides.source,
        tables.filter((t) => previous.get(t.name) === 'records'),
        since,
        datesScanSince(instance, record, rows, trust.facts.now, options.config, since),
        record.openKeys,
        counts!,
      );
      const highWater = planned.datesScanned ? planned.highWater : indexedHighWater(record, planned.highWater);
      return { ...planned, highWater, scanned: [...planned.windows.keys()] };
    },
  });
  // A windowed push lasts a moment: its lines reach the job's log as one (each line is a Redis round trip).
  const told: string[] = [];
  const tell = plan.read === 'windows' ? async (line: string) => void told.push(line) : log;
  if (plan.read === 'windows') {
    sides.windows = plan.scan.windows;
    await tell(
      `change windows since ${plan.since.toISOString()}: ` +
        ([...sides.windows].map(([name, ids]) => `${name} ${ids.length} rows`).join(', ') || 'no windowed table'),
    );
  } else if (trust.why === undefined) await log(`every row compared with the records: ${plan.because}`);

  // Nothing is written, to the target or to the records, before the records are marked pending.
  let pending = false;
  const ensurePending = async () => {
    if (pending || dryRun) return;
    pending = true;
    await markPushPending(pg, instance, target.display);
    await forgetRecordedRows(pg, instance, trust.why === undefined ? rebuilt : undefined);
  };
  const record = async (ops: Parameters<typeof recordRows>[2]) => {
    await ensurePending();
    await recordRows(pg, instance, ops);
  };

  const plans: TablePlan[] = [];
  // A change window's changes are few: kept from the plan, they are written without merging again.
  const kept = new Map<string, Change[]>();
  for (const table of tables) {
    const kind = previous.get(table.name)!;
    const window = sides.windows?.get(table.name);
    const changes = !dryRun && window !== undefined && window.length <= KEPT_WINDOW_ROWS ? [] : undefined;
    plans.push(await planTable(sides, table, kind, dryRun || kind === 'records' ? undefined : record, changes));
    if (changes !== undefined) kept.set(table.name, changes);
  }
  for (const plan of plans) {
    // A windowed table's other rows are unchanged by definition: all the records hold, less what changes.
    if (sides.windows?.has(plan.table)) plan.unchanged = (counts?.get(plan.table) ?? 0) - plan.deletes - plan.updates;
    await tell(describePlan(plan));
  }
  const unchanged = plans.reduce((sum, p) => sum + p.unchanged, 0);
  const fullCompare = plans.some((p) => p.comparedWith === 'target');
  if (dryRun) return result({ tables: tables.length, unchanged, fullCompare, plan: plans });
  if (!options.acceptReset) assertNoReset(instance, trust.file, plans, options.config.DELETE_GUARD_RATIO);

  const total = plans.reduce((sum, p) => sum + p.inserts + p.updates + p.deletes, 0);
  const stats = { done: 0, pushed: 0, deleted: 0, bytes: 0, batches: 0 };
  // Set for the last batch: what PostgreSQL records with its rows, in the same transaction.
  let finish: ((client: PoolClient) => Promise<void>) | undefined;
  const writer = new BatchWriter(
    target.client,
    options.config.TURSO_BATCH_BYTES,
    async (ops, bytes) => {
      const then = finish;
      if (then === undefined) await recordRows(pg, instance, ops);
      else
        await withTransaction(pg, async (client) => {
          await recordRows(client, instance, ops);
          await then(client);
        });
      stats.batches += 1;
      stats.bytes += bytes;
      stats.done += ops.length;
      for (const op of ops) stats[op.hash === undefined ? 'deleted' : 'pushed'] += 1;
      await options.progress({ done: stats.done, total });
    },
    sides.signal,
    ensurePending,
  );
  const byName = new Map(plans.map((p) => [p.table, p]));
  const write = async (table: TableSchema, kind: 'delete' | 'upsert') => {
    const plan = byName.get(table.name)!;
    if ((kind === 'delete' ? plan.deletes : plan.inserts + plan.updates) > 0)
      await writeChanges(sides, table, previous.get(table.name)!, writer, kind, kept.get(table.name));
  };
  // An order whose id SQLite reused (a deleted trade's last order id taken by a new order) is an
  // update that moves the row off the deleted trade: a target enforcing foreign keys accepts the
  // trade's deletion only after it. So, every batch keeping the target consistent: the childless
  // tables' deletions (before their upserts: a unique key a deleted row shares with a new one),
  // then every upsert parents first, then the parents' deletions children first.
  const referenced = new Set(tables.flatMap((t) => t.parents.map((parent) => parent.toLowerCase())));
  const isParent = (table: TableSchema) => referenced.has(table.name.toLowerCase());
  for (const table of [...tables].reverse()) if (!isParent(table)) await write(table, 'delete');
  for (const table of tables) await write(table, 'upsert');
  for (const table of [...tables].reverse()) if (isParent(table)) await write(table, 'delete');
  const next = {
    window: plan.next,
    openKeys: openKeys(sides.source, tables, plan.scan?.openIds),
    identity: trust.facts.identity,
    datesScan: nextDatesScan(trust.record, {
      datesRead: plan.read === 'every row' || plan.scan.datesScanned,
      at: trust.facts.now,
      highWater: plan.next.highWater,
    }),
  };
  if (total > 0 || pending || trust.why !== undefined || rebuilt.length > 0) {
    // The generation goes with the last rows, in one atomic batch; then PostgreSQL records those
    // rows, the generation and where the next windows start, in one transaction (a push that
    // dies before it leaves the records untrusted, so the next one compares with the target).
    const generation = newGeneration();
    finish = async (client) => {
      await commitGeneration(client, instance, target.display, generation, trust.fingerprint);
      await recordWindow(client, instance, next);
    };
    await writer.flush([generationStatement(generation)]);
  } else {
    await withTransaction(pg, async (client) => {
      if (trust.record?.sourceFingerprint !== (trust.fingerprint ?? null))
        await recordFingerprint(client, instance, trust.fingerprint);
      await recordWindow(client, instance, next);
    });
  }
  const fields = {
    tables: tables.length,
    pushed: stats.pushed,
    deleted: stats.deleted,
    unchanged,
    fullCompare,
    ...(sides.windows
      ? { windows: Object.fromEntries([...sides.windows].map(([name, ids]) => [name, ids.length])) }
      : {}),
  };
  const done = result({ ...fields, bytes: stats.bytes });
  await tell(
    `pushed ${stats.pushed} rows, deleted ${stats.deleted}, ${unchanged} unchanged, ${stats.batches} batches, ${stats.bytes} bytes to ${target.display} in ${done.ms} ms`,
  );
  if (told.length > 0) await log(told.join('; '));
  return done;
}

/** A change window of at most this many rows keeps its changes from the plan to the write. */
const KEPT_WINDOW_ROWS = 10_000;

async function targetCounts(
  client: Client,
  tables: readonly TableSchema[],
  existing: ReadonlySet<string>,
): Promise<Map<string, number>> {
  const present = tables.filter((t) => existing.has(t.name));
  if (present.length === 0) return new Map();
  const results = await client.batch(
    present.map((t) => `SELECT count(*) FROM ${quoteIdent(t.name)}`),
    'read',
  );
  return new Map(present.map((t, i) => [t.name, Number(results[i]?.rows[0]?.[0] ?? -1)]));
}
