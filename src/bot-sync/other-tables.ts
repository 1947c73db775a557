import type { PoolClient } from 'pg';
import { indexWindow, scanWindow, windowable, WINDOW_RULES, type WindowScan } from '../bots/change-window.js';
import { quoteIdent } from '../sql-identifier.js';
import type { BotDatabase } from './bot-database.js';
import { copySql } from './first-sync.js';
import { otherMappings, type TableMapping } from './freqtrade-columns.js';
import { mergeStaged, stageTable, type HashRequest } from './merge-sync.js';
import { copyLines, describePgFailure, tableAt } from './pg-copy.js';
import { createRowEncoder, KeyList, readLines, recordRowRejects, type RowReject } from './source-lines.js';
import type { BotSyncContext } from './sync-context.js';
import { emptyCounts, type TableCounts } from './sync-result.js';

/**
 * The bot's tables besides trades and orders (pairlocks, trade_custom_data, wallet_history,
 * KeyValueStore: freqtrade-columns.ts otherMappings), synced in the same transaction, after
 * trades and orders (and after the reset guard: an accepted reset has ended their epoch too).
 * Each table the bot's version has is:
 * - copied straight in when the run reads every row and PostgreSQL holds none of the bot's rows of it;
 * - else read by its change window (bots/change-window.ts: a lock while active or by its
 *   lock_end_time, custom data by updated_at, wallet history by its timestamp, and every new id)
 *   when the run reads windows and the table has a rule and an INTEGER PRIMARY KEY id: found as
 *   the trades' window was, by a scan of the dates or (a big bot between its date scans) through
 *   FreqTrade's indexes (a lock's end, a balance's time; custom data by the trades open or new);
 * - else read whole (KeyValueStore always: a few rows).
 * The rows read are merged by hash as trades are (merge-sync.ts); a row the source lost, or whose
 * new value is rejected, is deleted. A table the bot's version lacks is skipped, and PostgreSQL
 * keeps none of the bot's rows of it.
 *
 * A changed bot's sync reads these tables every time, mostly to find nothing changed in them, so
 * that case costs no PostgreSQL statement of its own: what PostgreSQL holds of each (rows, as the
 * last sync stored them, highest id, the hashes of the rows a window reads again whatever their
 * dates: locks in force, custom data of open trades, the whole key-value store; its recorded
 * rejects) comes with the trades' and orders' in the windows' plan (heldOtherTablesQuery), and the
 * rows read are compared with it by hash before any is sent. Only rows that differ, deletions and
 * rejects cost statements of their own.
 */
export interface OtherTablesResult {
  /** Per PostgreSQL table, the rows written; tables the source lacks are absent unless rows were deleted. */
  tables: Record<string, TableCounts>;
  /** Rows that could not be taken (recorded in rejects). */
  rejected: number;
}

/** What PostgreSQL holds of one table for the bot. */
interface HeldTable {
  count: number;
  maxId: number;
  /** Row hashes by id of the rows read again by every run (active locks; every key-value row). */
  hashes: Map<number, string>;
  /** Whether `hashes` covers every row the bot has in the table. */
  allHashes: boolean;
  /** The bot's rejects recorded for the table's rows. */
  rejects: number;
  /**
   * The run's window of the table, when the windows' plan found it (findOtherWindows); `hashes`
   * then also receives those of its rows PostgreSQL holds (merge-sync.ts, with the trades').
   */
  window?: WindowScan;
}

export async function syncOtherTables(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  /**
   * When this run reads windows: what the windows' plan read of the tables (heldOtherTablesQuery,
   * findOtherWindows); else every row is read.
   */
  planned?: HeldOtherTables,
): Promise<OtherTablesResult> {
  const result: OtherTablesResult = { tables: {}, rejected: 0 };
  const held = planned ?? (await heldTables(client, botId, source.bot));
  for (const mapping of otherMappings) {
    const table = held.get(mapping.target)!;
    if (!source.others.includes(mapping)) {
      // A table the source lacks (an older FreqTrade, or a file replaced by one): PostgreSQL keeps none of it either.
      if (table.count === 0) continue;
      const deleted = await client.query(`DELETE FROM ${quoteIdent(mapping.target)} WHERE bot_id = $1`, [botId]);
      result.tables[mapping.target] = { ...emptyCounts(), deleted: deleted.rowCount ?? 0 };
      continue;
    }
    const rejects: RowReject[] = [];
    const synced = await syncTable(ctx, client, source, botId, mapping, table, planned !== undefined, rejects);
    result.tables[mapping.target] = synced.written;
    // Rejects are replaced only where there are new ones or old ones to drop.
    if (rejects.length > 0 || table.rejects > 0)
      result.rejected += await recordRowRejects(client, source.bot, source.file, rejects, [
        { table: mapping.source, rowids: synced.reread },
      ]);
  }
  return result;
}

/** Syncs one table; `reread`: the rowids read (a window), undefined when the table was read whole. */
async function syncTable(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  mapping: TableMapping,
  held: HeldTable,
  /** The run reads windows (held.window: the table's, undefined when it is read whole). */
  byWindows: boolean,
  rejects: RowReject[],
): Promise<{ written: TableCounts; reread: number[] | undefined }> {
  const written = emptyCounts();
  if (!byWindows && held.count === 0) {
    written.inserted = await copyStraight(ctx, client, source, botId, mapping, rejects);
    return { written, reread: undefined };
  }
  const scan = held.window;
  const progress = { done: 0, total: scan?.ids.length ?? source.count(mapping.source) };
  // A changed bot's few rows are read in a moment: the trades' merge told the run's progress
  // (merge-sync.ts), and each update is a round trip to Redis in a worker; a longer read's is told.
  const inline = progress.total <= ctx.config.SYNC_BATCH_SIZE;
  const reading: BotSyncContext = byWindows && inline ? { ...ctx, progress: async () => undefined } : ctx;
  // Every usable row read; only those whose hash PostgreSQL is not known to hold are staged.
  const read: number[] = [];
  // A window's rows are read by the ids its scan found (none: nothing to read).
  const staged =
    progress.total === 0
      ? { keys: [] }
      : await stageTable(reading, client, source, mapping, {
          stage: `stage_${mapping.target}`,
          window: scan && { where: 'rowid IN (SELECT value FROM json_each(?))', params: [JSON.stringify(scan.ids)] },
          inline,
          progress,
          rejects,
          keep: (row) => {
            read.push(row.key!);
            return held.hashes.get(row.key!) !== row.line.slice(-33, -1); // the line ends with its hash and \n
          },
        });
  const lost = deletions(source, mapping, held, scan, read, rejects);
  const key = quoteIdent(mapping.key.target);
  if ('keep' in lost || lost.gone.length > 0)
    written.deleted =
      (
        await client.query(
          `DELETE FROM ${quoteIdent(mapping.target)} WHERE bot_id = $1 AND ${'keep' in lost ? `NOT (${key} = ANY($2::int[]))` : `${key} = ANY($2::int[])`}`,
          [botId, 'keep' in lost ? lost.keep : lost.gone],
        )
      ).rowCount ?? 0;
  if ('rows' in staged && staged.keys.length > 0) {
    const merged = await mergeStaged(client, mapping, staged.rows, botId).catch((error: unknown) => {
      throw describePgFailure(tableAt(source, mapping), error);
    });
    written.inserted = merged.inserted;
    written.updated = merged.updated;
  }
  // A whole read saw every row; a window's other rows are unchanged by definition.
  written.unchanged =
    scan === undefined
      ? read.length - written.inserted - written.updated
      : held.count - written.deleted - written.updated;
  return { written, reread: scan?.ids };
}

/**
 * Tables whose every date FreqTrade moves on an existing row it also indexes (a lock's end; a
 * balance is never written again): a scan of their dates finds nothing their indexes do not, so
 * they are always read through indexes (a cost that follows the window, not the table).
 */
const ALWAYS_BY_INDEX: ReadonlySet<string> = new Set(['pairlocks', 'wallet_history']);

/**
 * The table's change window, found as the trades' was: by a scan of the dates, or (a big bot
 * between its date scans) through indexes, custom data by the trades open or new (locks and
 * balances through indexes always: ALWAYS_BY_INDEX); undefined when the table is read whole (no
 * rule, or not keyed by an INTEGER PRIMARY KEY id).
 */
function findWindow(
  source: BotDatabase,
  mapping: TableMapping,
  held: HeldTable,
  since: Date,
  indexed: { tradeIds: readonly number[] } | undefined,
): WindowScan | undefined {
  return source.guard(() => {
    if (WINDOW_RULES[mapping.source] === undefined || !windowable(source.db, mapping.source)) return undefined;
    const heldRows = {
      maxId: held.maxId,
      // Custom data of open trades is read again through indexes only: a scan finds it by its date.
      openIds: indexed === undefined && INDEX_ONLY_REREAD.has(mapping.target) ? [] : [...held.hashes.keys()],
    };
    return indexed === undefined && !ALWAYS_BY_INDEX.has(mapping.target)
      ? scanWindow(source.db, mapping.source, since, heldRows)
      : indexWindow(source.db, mapping.source, heldRows, indexed?.tradeIds ?? [], since);
  });
}

/**
 * The other tables' windows, found in the windows' plan (in the same snapshot as the trades'), so
 * that the hashes PostgreSQL holds of their rows come in the trades' and orders' statement
 * (otherHashRequests): a row written within SYNC_WINDOW_MARGIN is read again by every run for a
 * while, and would otherwise be sent back by each.
 */
export function findOtherWindows(
  source: BotDatabase,
  held: HeldOtherTables,
  since: Date,
  indexed: { tradeIds: readonly number[] } | undefined,
): void {
  for (const mapping of source.others) {
    const table = held.get(mapping.target)!;
    table.window = findWindow(source, mapping, table, since, indexed);
  }
}

/** The rows of the other tables' windows whose hashes are not known yet (a window read inline alone). */
export function otherHashRequests(held: HeldOtherTables, inlineRows: number): HashRequest[] {
  return otherMappings.flatMap((mapping) => {
    const table = held.get(mapping.target)!;
    const window = table.window;
    if (window === undefined || window.ids.length === 0 || window.ids.length > inlineRows) return [];
    const ids = window.ids.filter((id) => !table.hashes.has(id));
    return ids.length === 0 ? [] : [{ table: mapping.target, key: mapping.key.target, ids, into: table.hashes }];
  });
}

/**
 * The rows PostgreSQL holds that the source no longer does (or whose row it now rejects): `gone`
 * by id when every held id is known, else `keep`: every held row but these goes. A whole read
 * keeps the ids read; a window, when the counts tell of a deletion, the table's ids.
 */
function deletions(
  source: BotDatabase,
  mapping: TableMapping,
  held: HeldTable,
  scan: { ids: readonly number[]; count: number } | undefined,
  read: readonly number[],
  rejects: readonly RowReject[],
): { gone: number[] } | { keep: number[] } {
  let present: readonly number[] = read;
  if (scan !== undefined) {
    const lost = new Set(rejects.map((r) => Number(r.rowid)));
    const added = scan.ids.filter((id) => id > held.maxId).length;
    if (lost.size === 0 && scan.count === held.count + added) return { gone: [] };
    present = source.guard(() => source.rowids(mapping.source)).filter((id) => !lost.has(id));
  }
  if (!held.allHashes) return { keep: [...present] };
  const kept = new Set(present);
  return { gone: [...held.hashes.keys()].filter((id) => !kept.has(id)) };
}

/** A table PostgreSQL holds none of for the bot: COPY straight in, as a first sync does. */
async function copyStraight(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  mapping: TableMapping,
  rejects: RowReject[],
): Promise<number> {
  const total = source.count(mapping.source);
  if (total === 0) return 0;
  // COPY reads FreqTrade's naive dates in the session's zone: make it UTC, whatever the pool says.
  await client.query("SET LOCAL TimeZone = 'UTC'");
  const encoder = createRowEncoder(mapping, source.columnsOf(mapping.source));
  const lineKeys = new KeyList();
  return copyLines(
    client,
    copySql(mapping, encoder),
    readLines(ctx, source, mapping, encoder, { done: 0, total }, rejects, { prefix: `${botId}\t`, lineKeys }),
  ).catch((error: unknown) => {
    throw describePgFailure(tableAt(source, mapping), error, lineKeys);
  });
}

/**
 * Per table, the condition on PostgreSQL's rows that every run reads again whatever their dates
 * (their hashes are fetched, so an unchanged one is never sent back): bots/change-window.ts's
 * open rows (a lock while active), and the key-value store whole.
 */
const REREAD: Readonly<Record<string, string>> = {
  // A lock in force at the window's start ($4, none: every lock; change-window.ts openUntil), or
  // with no readable end: `active IS NOT FALSE AND (lock_end_time IS NULL OR lock_end_time >= $4)`,
  // written so that each part is an index's (migrations 019 and 023), not a read of a big bot's every lock.
  pairlocks: `(active AND lock_end_time >= coalesce($4::timestamptz, '-infinity'))
    OR ((active IS NULL OR lock_end_time IS NULL) AND active IS NOT FALSE
      AND (lock_end_time IS NULL OR lock_end_time >= coalesce($4::timestamptz, '-infinity')))`,
  // The custom data of the trades open in the copy, which a window through indexes reads again:
  // looked up by trade (an array, so never a join over a big bot's every row).
  trade_custom_data:
    'trade_id = ANY (ARRAY(SELECT t.trade_id FROM trades_aggregated t WHERE t.bot_id = $1 AND t.is_open))',
  key_value_store: 'true',
};

/** Tables whose REREAD rows only a window through indexes reads again. */
const INDEX_ONLY_REREAD: ReadonlySet<string> = new Set(['trade_custom_data']);

/** What PostgreSQL holds of each of the four tables for the bot (heldOtherTables). */
export type HeldOtherTables = ReadonlyMap<string, HeldTable>;

/** Rows PostgreSQL holds of each of the four tables for the bot (bot_sync_state.other_counts). */
export type OtherTableCounts = Readonly<Record<string, number>>;

/** The rows PostgreSQL holds of each table after this run (stored for the next one). */
export function heldAfter(result: OtherTablesResult): OtherTableCounts {
  return Object.fromEntries(
    otherMappings.map((m) => {
      const written = result.tables[m.target];
      return [m.target, written === undefined ? 0 : written.inserted + written.updated + written.unchanged];
    }),
  );
}

/**
 * The columns of heldOtherTables' answer: a select list over $1 bot id, $2 bot, $3 tables, $4
 * window start, $5 the counts stored by the last sync (a big bot's rows are not counted again;
 * COALESCE evaluates the count only without one). Each part is a statement of its own, so the
 * highest id and the hashes are read from indexes, not from every row of the bot.
 */
const HELD_COLUMNS = [
  ...otherMappings.map((mapping) => {
    const key = quoteIdent(mapping.key.target);
    const table = quoteIdent(mapping.target);
    const hashed = REREAD[mapping.target];
    const count = `coalesce(($5::jsonb ->> '${mapping.target}')::bigint, (SELECT count(*) FROM ${table} WHERE bot_id = $1))`;
    const hashes =
      hashed === undefined
        ? `'[]'::json`
        : `(SELECT coalesce(json_agg(json_build_array(${key}, row_hash)), '[]'::json) FROM ${table} WHERE bot_id = $1 AND (${hashed}))`;
    return `json_build_array(${count}, (SELECT max(${key}) FROM ${table} WHERE bot_id = $1), ${hashes}) AS ${quoteIdent(`held_${mapping.target}`)}`;
  }),
  `(SELECT json_object_agg(collection, n) FROM (
      SELECT collection, count(*) AS n FROM rejects
      WHERE source = 'bot-sync' AND source_ref LIKE $2 || ':%' AND position LIKE 'rowid %' AND collection = ANY($3)
      GROUP BY collection) r) AS held_rejects`,
].join(',\n       ');

/**
 * What PostgreSQL holds of each of the four tables for the bot, as columns another statement of
 * the same transaction can carry (sync-state.ts planSyncWindows, which reads the trades' and
 * orders' held state: one statement for all six tables): rows, highest id, the hashes of the rows
 * every run reads again (active locks: `active IS NOT FALSE`, NULL being an unreadable value;
 * every key-value row), and the rejects recorded for its rows. `params` follow the statement's
 * own $1, the bot's id.
 */
export function heldOtherTablesQuery(
  bot: string,
  since: Date | undefined,
  /** The counts the last sync stored (null: counted now). */
  counts: OtherTableCounts | null,
): {
  columns: string;
  params: [string, string[], Date | null, string | null];
  read: (row: Record<string, unknown>) => HeldOtherTables;
} {
  return {
    columns: HELD_COLUMNS,
    params: [bot, otherMappings.map((m) => m.source), since ?? null, counts === null ? null : JSON.stringify(counts)],
    read: (row) => {
      const rejects = row.held_rejects as Record<string, number> | null;
      return new Map(
        otherMappings.map((mapping) => {
          const [count, maxId, hashes] = row[`held_${mapping.target}`] as [
            number,
            number | null,
            Array<[number, string]>,
          ];
          return [
            mapping.target,
            {
              count,
              maxId: maxId ?? Number.MIN_SAFE_INTEGER,
              hashes: new Map(hashes),
              allHashes: REREAD[mapping.target] === 'true',
              rejects: rejects?.[mapping.source] ?? 0,
            },
          ];
        }),
      );
    },
  };
}

/** heldOtherTablesQuery in a statement of its own (a run that plans no windows, or whose reset emptied the tables). */
async function heldTables(client: PoolClient, botId: string, bot: string): Promise<HeldOtherTables> {
  // Counted: this run may follow an accepted reset, which emptied the tables.
  const query = heldOtherTablesQuery(bot, undefined, null);
  const { rows } = await client.query<Record<string, unknown>>(`SELECT ${query.columns}`, [botId, ...query.params]);
  return query.read(rows[0]!);
}
