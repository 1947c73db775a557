import type { Client } from '@libsql/client';
import type { PgPool } from '../connections/postgres.js';
import type { SqliteDb } from '../bots/bot-database-file.js';
import { judgeReset, resetRefusal } from '../bots/reset-guard.js';
import type { RecordOp } from './push-state.js';
import { windowRecordedPager, windowSourcePager, type PushWindows } from './push-window.js';
import { decodeSortKey, displayKey } from './row-keys.js';
import {
  mergeRows,
  recordedPager,
  RowCursor,
  sourcePager,
  targetPager,
  type Change,
  type HashedRow,
  type KeyedRow,
  type Pager,
  type RowReader,
} from './row-streams.js';
import type { TableSchema } from './table-schema.js';

/** What a push compares a table with: PostgreSQL's records, the target's rows, or nothing (new). */
export type Previous = 'records' | 'target' | 'empty';

export interface TablePlan {
  table: string;
  comparedWith: Previous;
  inserts: number;
  updates: number;
  deletes: number;
  unchanged: number;
  /** A few keys of each kind, for --dry-run and the logs. */
  samples: { insert: string[]; update: string[]; delete: string[] };
}

const SAMPLE_KEYS = 5;
const RECORD_CHUNK = 5000;

export interface PlanSides {
  pg: PgPool;
  instance: string;
  source: SqliteDb;
  client: Client;
  signal: AbortSignal;
  /** Tables read by change window (compared with the records only): the ids to read. */
  windows?: PushWindows;
}

/** The cursor over what the target holds of a table, by the way it is compared. */
export function previousCursor(sides: PlanSides, table: TableSchema, previous: Previous): RowReader<HashedRow> {
  if (previous === 'target')
    return new RowCursor(targetPager(sides.client, table), `target of ${table.name}`, sides.signal);
  const window = previous === 'records' ? sides.windows?.get(table.name) : undefined;
  const pager: Pager<HashedRow> =
    window !== undefined
      ? windowRecordedPager(sides.pg, sides.instance, table.name, window)
      : previous === 'records'
        ? recordedPager(sides.pg, sides.instance, table.name)
        : async () => [];
  return new RowCursor(pager, `recorded rows of ${table.name}`, sides.signal);
}

/** The cursor over the source's table: every row, or (`previous` the records) a change window's. */
export function sourceCursor(sides: PlanSides, table: TableSchema, previous: Previous): RowCursor<KeyedRow> {
  const window = previous === 'records' ? sides.windows?.get(table.name) : undefined;
  const pager =
    window !== undefined ? windowSourcePager(sides.source, table, window) : sourcePager(sides.source, table);
  return new RowCursor(pager, `source table ${table.name}`, sides.signal);
}

/**
 * Merges one table of the source with what the target holds, counting inserts, updates and
 * deletes (and keeping them in `changes`, if given) and writing nothing. When the table's records are being rebuilt (`record`), the rows
 * found equal in the target are recorded as it goes, a chunk at a time.
 */
export async function planTable(
  sides: PlanSides,
  table: TableSchema,
  previous: Previous,
  record?: (ops: RecordOp[]) => Promise<void>,
  /** Receives the changes found (a change window's few), so writing them needs no second merge. */
  changes?: Change[],
): Promise<TablePlan> {
  const plan: TablePlan = {
    table: table.name,
    comparedWith: previous,
    inserts: 0,
    updates: 0,
    deletes: 0,
    unchanged: 0,
    samples: { insert: [], update: [], delete: [] },
  };
  const pending: RecordOp[] = [];
  for await (const change of mergeRows(sourceCursor(sides, table, previous), previousCursor(sides, table, previous))) {
    if (change.kind === 'same') {
      plan.unchanged += 1;
      if (record) {
        pending.push({ table: table.name, key: change.row.key, hash: change.row.hash });
        if (pending.length >= RECORD_CHUNK) await record(pending.splice(0));
      }
      continue;
    }
    changes?.push(change);
    const kind = change.kind;
    plan[kind === 'insert' ? 'inserts' : kind === 'update' ? 'updates' : 'deletes'] += 1;
    const samples = plan.samples[kind];
    if (samples.length < SAMPLE_KEYS)
      samples.push(displayKey(change.kind === 'delete' ? decodeSortKey(change.key) : change.row.keyValues));
  }
  if (record && pending.length > 0) await record(pending);
  return plan;
}

export function describePlan(plan: TablePlan): string {
  const total = plan.inserts + plan.updates + plan.unchanged;
  const samples = (['insert', 'update', 'delete'] as const)
    .filter((kind) => plan.samples[kind].length > 0)
    .map((kind) => `${kind} ${plan.samples[kind].join(', ')}`);
  return (
    `${plan.table}: ${total} rows, ${plan.inserts + plan.updates} to push (${plan.inserts} new, ${plan.updates} changed), ` +
    `${plan.deletes} to delete${samples.length > 0 ? `; e.g. ${samples.join('; ')}` : ''}`
  );
}

/**
 * The reset guard (bots/reset-guard.ts, shared with bot-sync): a source that would make the push
 * delete more than DELETE_GUARD_RATIO of the backup's trades or orders is most likely another
 * database (a FreqTrade reset, a dry-run file, an old copy), and its push would wipe the backup.
 * It fails permanently, writing nothing, until an operator accepts it.
 */
export function assertNoReset(instance: string, file: string, plans: readonly TablePlan[], ratio: number): void {
  const guarded = plans.filter((p) => p.table === 'trades' || p.table === 'orders');
  const verdict = judgeReset(
    {
      firstTradesChanged: [],
      tables: guarded.map((p) => ({
        table: p.table,
        held: p.deletes + p.updates + p.unchanged,
        deleting: p.deletes,
      })),
    },
    ratio,
  );
  if (!verdict.suspected) return;
  throw resetRefusal({
    bot: instance,
    file,
    job: 'turso-push',
    verdict,
    choices: [{ value: 'delete', meaning: 'the backup then mirrors the new file, without the old rows' }],
  });
}
