import type { PoolClient } from 'pg';
import type { BotDatabase } from './bot-database.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import type { BotSyncContext } from './sync-context.js';
import {
  createRowEncoder,
  KeyList,
  readLines,
  recordRowRejects,
  type RowEncoder,
  type RowReject,
} from './source-lines.js';
import { copyLines, describePgFailure, tableAt } from './pg-copy.js';
import { quoteIdent } from '../sql-identifier.js';
import { emptyCounts, type ReadCounts } from './sync-result.js';

/** COPY straight into the bot's table: the bot's id, then the encoder's columns. */
export function copySql(mapping: TableMapping, encoder: RowEncoder): string {
  const columns = ['bot_id', ...encoder.columns.map(([name]) => name)].map(quoteIdent).join(', ');
  return `COPY ${quoteIdent(mapping.target)} (${columns}) FROM STDIN`;
}

/**
 * A bot PostgreSQL holds nothing of yet: its rows are copied straight into the bot's tables
 * (no staging, no merge), as fast as a plain COPY plus reading and encoding the source.
 * Trades first, remembering their ids, then the orders of those trades.
 */
export async function firstSync(
  ctx: BotSyncContext,
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
