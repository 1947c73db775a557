import type { PoolClient } from 'pg';
import { scanWindow, windowable, WINDOW_RULES } from '../bots/change-window.js';
import { quoteIdent } from '../sql-identifier.js';
import type { BotDatabase } from './bot-database.js';
import { copySql } from './first-sync.js';
import { otherMappings, type TableMapping } from './freqtrade-columns.js';
import { mergeStaged, stageTable } from './merge-sync.js';
import { copyLines, describePgFailure, tableAt } from './pg-copy.js';
import { createRowEncoder, KeyList, readLines, recordRowRejects, type RowReject } from './source-lines.js';
import type { BotSyncContext } from './sync-context.js';
import { emptyCounts, type TableCounts } from './sync-result.js';

/**
 * The bot's tables besides trades and orders (pairlocks, trade_custom_data, wallet_history,
 * KeyValueStore: freqtrade-columns.ts otherMappings), synced in the same transaction, after
 * trades and orders (and after the reset guard: an accepted reset has ended their epoch too).
 * Each table the bot's version has is, in turn:
 * - copied straight in when PostgreSQL holds none of the bot's rows of it;
 * - else read by its change window (bots/change-window.ts: a lock while active or by its
 *   lock_end_time, custom data by updated_at, wallet history by its timestamp, and every new id)
 *   when the run reads windows and the table has a rule and an INTEGER PRIMARY KEY id;
 * - else read whole (KeyValueStore always: a few rows, compared by hash).
 * The rows read are staged and merged by hash as trades are (merge-sync.ts); a row the source
 * lost, or whose new value is rejected, is deleted. A table the bot's version lacks is skipped,
 * and PostgreSQL keeps none of the bot's rows of it.
 */
export interface OtherTablesResult {
  /** Per PostgreSQL table, the rows written; tables the source lacks are absent. */
  tables: Record<string, TableCounts>;
  /** Rows that could not be taken (recorded in rejects). */
  rejected: number;
}

/** What PostgreSQL holds of one table for the bot. */
interface HeldTable {
  count: number;
  maxId: number;
  /** Rows FreqTrade may still change (an active lock), read again by every window. */
  openIds: number[];
}

export async function syncOtherTables(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  /** The change windows' start when this run reads windows; undefined: every row. */
  since: Date | undefined,
): Promise<OtherTablesResult> {
  const result: OtherTablesResult = { tables: {}, rejected: 0 };
  for (const mapping of source.others) {
    const rejects: RowReject[] = [];
    const counts = await syncTable(ctx, client, source, botId, mapping, since, rejects);
    result.tables[mapping.target] = counts.written;
    result.rejected += await recordRowRejects(client, source.bot, source.file, rejects, [
      { table: mapping.source, rowids: counts.reread },
    ]);
  }
  // A table the source lacks (an older FreqTrade, or a file replaced by one): PostgreSQL keeps none of it either.
  const present = new Set(source.others.map((m) => m.target));
  for (const mapping of otherMappings.filter((m) => !present.has(m.target))) {
    const deleted = (await client.query(`DELETE FROM ${quoteIdent(mapping.target)} WHERE bot_id = $1`, [botId]))
      .rowCount;
    if ((deleted ?? 0) > 0) result.tables[mapping.target] = { ...emptyCounts(), deleted: deleted ?? 0 };
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
  since: Date | undefined,
  rejects: RowReject[],
): Promise<{ written: TableCounts; reread: number[] | undefined }> {
  const written = emptyCounts();
  const held = await heldTable(client, mapping, botId);
  if (held.count === 0) {
    written.inserted = await copyStraight(ctx, client, source, botId, mapping, rejects);
    return { written, reread: undefined };
  }
  const byWindow =
    since !== undefined &&
    WINDOW_RULES[mapping.source] !== undefined &&
    source.guard(() => windowable(source.db, mapping.source));
  const scan = byWindow
    ? source.guard(() => scanWindow(source.db, mapping.source, since, { maxId: held.maxId, openIds: held.openIds }))
    : undefined;
  const progress = { done: 0, total: scan?.ids.length ?? source.count(mapping.source) };
  const stage = `stage_${mapping.target}`;
  const staged = await stageTable(ctx, client, source, mapping, {
    stage,
    window: scan && { where: scan.window.where, params: scan.window.params },
    inline: progress.total <= ctx.config.SYNC_BATCH_SIZE,
    progress,
    rejects,
  });
  const key = quoteIdent(mapping.key.target);
  const target = quoteIdent(mapping.target);
  // The ids the source holds now: every staged key (a whole read), or (a window) the table's
  // rowids (= ids) less the window's rejected rows, read only when the counts tell of a deletion.
  let present: number[] | undefined = staged.keys;
  if (scan !== undefined) {
    const lost = new Set(rejects.map((r) => Number(r.rowid)));
    const added = scan.ids.filter((id) => id > held.maxId).length;
    present =
      lost.size === 0 && scan.count === held.count + added
        ? undefined
        : source.guard(() => source.rowids(mapping.source)).filter((id) => !lost.has(id));
  }
  if (present !== undefined)
    written.deleted =
      (
        await client.query(`DELETE FROM ${target} WHERE bot_id = $1 AND NOT (${key} = ANY($2::int[]))`, [
          botId,
          present,
        ])
      ).rowCount ?? 0;
  const merged = await mergeStaged(client, mapping, staged.rows, botId).catch((error: unknown) => {
    throw describePgFailure(tableAt(source, mapping), error);
  });
  written.inserted = merged.inserted;
  written.updated = merged.updated;
  // A whole read staged every row; a window's other rows are unchanged by definition.
  written.unchanged =
    scan === undefined
      ? staged.keys.length - merged.inserted - merged.updated
      : held.count - written.deleted - merged.updated;
  return { written, reread: scan?.ids };
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
  // COPY reads FreqTrade's naive dates in the session's zone: make it UTC, whatever the pool says.
  await client.query("SET LOCAL TimeZone = 'UTC'");
  const encoder = createRowEncoder(mapping, source.columnsOf(mapping.source));
  const lineKeys = new KeyList();
  const progress = { done: 0, total: source.count(mapping.source) };
  return copyLines(
    client,
    copySql(mapping, encoder),
    readLines(ctx, source, mapping, encoder, progress, rejects, { prefix: `${botId}\t`, lineKeys }),
  ).catch((error: unknown) => {
    throw describePgFailure(tableAt(source, mapping), error, lineKeys);
  });
}

/** The bot's rows of the table in PostgreSQL: how many, the highest id, the open ones (active locks). */
async function heldTable(client: PoolClient, mapping: TableMapping, botId: string): Promise<HeldTable> {
  const key = quoteIdent(mapping.key.target);
  const open = WINDOW_RULES[mapping.source]?.open;
  // Only pairlocks has an open column (active); NULL there (an unreadable value) is read again too.
  const openIds =
    open === undefined || mapping.columns[open] === undefined
      ? 'NULL::int[]'
      : `array_agg(${key} ORDER BY ${key}) FILTER (WHERE ${quoteIdent(open)} IS NOT FALSE)`;
  const { rows } = await client.query<{ count: number; max_id: number | null; open_ids: number[] | null }>(
    `SELECT count(*)::int AS count, max(${key}) AS max_id, ${openIds} AS open_ids
     FROM ${quoteIdent(mapping.target)} WHERE bot_id = $1`,
    [botId],
  );
  const row = rows[0]!;
  return { count: row.count, maxId: row.max_id ?? Number.MIN_SAFE_INTEGER, openIds: row.open_ids ?? [] };
}
