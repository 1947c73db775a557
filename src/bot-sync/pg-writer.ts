import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PermanentJobError } from '../errors.js';
import type { BotDatabase } from './bot-database.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import type { JobContext } from '../jobs/job.js';
import {
  createRowEncoder,
  KeyList,
  readLines,
  recordRowRejects,
  type RowEncoder,
  type RowReject,
} from './source-lines.js';
import { emptyCounts, type ReadCounts } from './sync-state.js';

/**
 * Streams COPY text into PostgreSQL; the next chunk is produced while PostgreSQL takes the
 * previous one. Returns the number of rows copied.
 */
export async function copyLines(
  client: PoolClient,
  copySql: string,
  chunks: AsyncIterable<string | Buffer>,
): Promise<number> {
  const stream = client.query(copyFrom(copySql));
  const done = finished(stream);
  try {
    for await (const text of chunks) {
      if (!stream.write(text)) await Promise.race([once(stream, 'drain'), done]);
    }
    stream.end();
    await done;
  } catch (error) {
    stream.destroy(error instanceof Error ? error : new Error(String(error)));
    await done.catch(() => undefined);
    throw error;
  }
  return stream.rowCount;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** SQLSTATE classes a retry cannot fix: the same rows meet the same refusal (data exception, integrity). */
const PERMANENT_CLASSES = new Set(['22', '23']);

function field(error: unknown, name: string): string | undefined {
  if (typeof error !== 'object' || error === null || !(name in error)) return undefined;
  const value = (error as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * A PostgreSQL error met while writing a bot's table, in words that name the bot, the file, the
 * table and, for a COPY, the row (PostgreSQL names the line; `lineKeys` holds each line's key).
 * The values are checked before they are sent, so this is the rare case left; a data or
 * integrity error is permanent, anything else (a lost connection, a timeout) retries.
 */
export function describePgFailure(
  at: { bot: string; file: string; table: string; keyColumn: string },
  error: unknown,
  lineKeys: { at(index: number): number | undefined } = [],
): Error {
  if (error instanceof PermanentJobError) return error;
  const code = field(error, 'code') ?? '';
  const message = error instanceof Error ? error.message : String(error);
  const where = field(error, 'where') ?? '';
  // "COPY <table>, line N[, column C]" (a trigger's own "line 1 at RAISE" may come before it).
  const copyAt = /COPY \S+, line (\d+)(?:, column (\w+))?/.exec(where);
  const line = copyAt?.[1];
  const key = line === undefined ? undefined : lineKeys.at(Number(line) - 1);
  const column = copyAt?.[2];
  const row = key === undefined ? '' : `, row ${at.keyColumn} ${key}${column ? `, column ${column}` : ''}`;
  const detail = field(error, 'detail');
  const text =
    `bot ${at.bot}: ${at.file}: table ${at.table}${row}: PostgreSQL refused it: ${message}` +
    (detail ? ` (${detail})` : '') +
    (code ? ` [${code}]` : '');
  if (PERMANENT_CLASSES.has(code.slice(0, 2))) return new PermanentJobError(text, { cause: error });
  return new Error(text, { cause: error });
}

/** Where a write failed: bot, file, table, for the error's message. */
export function tableAt(
  source: BotDatabase,
  mapping: TableMapping,
): { bot: string; file: string; table: string; keyColumn: string } {
  return { bot: source.bot, file: source.file, table: mapping.source, keyColumn: mapping.key.source };
}

function copySql(mapping: TableMapping, encoder: RowEncoder): string {
  const columns = ['bot_id', ...encoder.columns.map(([name]) => name)].map(quoteIdent).join(', ');
  return `COPY ${quoteIdent(mapping.target)} (${columns}) FROM STDIN`;
}

/**
 * A bot PostgreSQL holds nothing of yet: its rows are copied straight into the bot's tables
 * (no staging, no merge), as fast as a plain COPY plus reading and encoding the source.
 * Trades first, remembering their ids, then the orders of those trades.
 */
export async function firstSync(
  ctx: JobContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string,
): Promise<ReadCounts> {
  const result = { trades: emptyCounts(), orders: emptyCounts(), rejected: 0 };
  // COPY reads FreqTrade's naive dates in the session's zone: make it UTC, whatever the pool says.
  await client.query("SET LOCAL TimeZone = 'UTC'");
  const progress = {
    done: 0,
    total: source.count(tradesMapping.source) + (source.orders ? source.count(ordersMapping.source) : 0),
  };
  const trades = createRowEncoder(tradesMapping, source.columnsOf(tradesMapping.source));
  const rowRejects: RowReject[] = [];
  let lastTrade = Number.MIN_SAFE_INTEGER;
  // Every trade copied, line by line: names a line PostgreSQL refuses, then tells the orders whose trade was copied.
  const tradeLines = new KeyList();
  result.trades.inserted = await copyLines(
    client,
    copySql(tradesMapping, trades),
    readLines(ctx, source, tradesMapping, trades, progress, rowRejects, {
      prefix: `${botId}\t`,
      lineKeys: tradeLines,
      keep: (row) => {
        // Rows come in rowid order, not key order: the highest key read so far.
        if (row.key! > lastTrade) lastTrade = row.key!;
        return true;
      },
    }),
  ).catch((error: unknown) => {
    throw describePgFailure(tableAt(source, tradesMapping), error, tradeLines);
  });
  const orphans: Array<{ order: number; trade: number | null }> = [];
  const later: Array<{ order: number; trade: number }> = [];
  if (source.orders) {
    const tradeIds = tradeLines.toSet();
    const orders = createRowEncoder(ordersMapping, source.columnsOf(ordersMapping.source));
    const orderLines = new KeyList();
    result.orders.inserted = await copyLines(
      client,
      copySql(ordersMapping, orders),
      readLines(ctx, source, ordersMapping, orders, progress, rowRejects, {
        prefix: `${botId}\t`,
        lineKeys: orderLines,
        keep: (row) => {
          if (row.parent !== null && tradeIds.has(row.parent)) return true;
          // A trade newer than the last one read may have been written during this sync: checked below.
          if (row.parent !== null && row.parent > lastTrade) later.push({ order: row.key!, trade: row.parent });
          else orphans.push({ order: row.key!, trade: row.parent });
          return false;
        },
      }),
    ).catch((error: unknown) => {
      throw describePgFailure(tableAt(source, ordersMapping), error, orderLines);
    });
  }
  // Orders of a trade that exists now were written during this sync (the next sync takes them);
  // the others belong to no trade at all.
  const existing = source.existingKeys(
    tradesMapping.source,
    tradesMapping.key.source,
    later.map((o) => o.trade),
  );
  for (const order of later) if (!existing.has(order.trade)) orphans.push(order);
  if (orphans.length > 0) await rejectOrphans(client, `${source.bot}:${source.file}`, orphans);
  const unusable = await recordRowRejects(client, source.bot, source.file, rowRejects);
  result.rejected = orphans.length + unusable;
  return result;
}

async function rejectOrphans(
  client: PoolClient,
  sourceRef: string,
  orphans: ReadonlyArray<{ order: number; trade: number | null }>,
): Promise<void> {
  await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason)
     SELECT 'bot-sync', 'orders', $1, 'id ' || o, 'order ' || o || ' belongs to trade ' || coalesce(t::text, '(none)') || ', which is not in the trades table'
     FROM unnest($2::bigint[], $3::bigint[]) AS x(o, t)
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason`,
    [sourceRef, orphans.map((o) => o.order), orphans.map((o) => o.trade)],
  );
}
