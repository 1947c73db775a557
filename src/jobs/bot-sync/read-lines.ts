import type { PoolClient } from 'pg';
import type { JobContext } from '../job.js';
import type { BotDatabase } from './bot-database.js';
import { jsonSafe } from './column-values.js';
import type { TableMapping } from './freqtrade-columns.js';
import type { RowEncoder } from './row-encoder.js';

export type EncodedRow = ReturnType<RowEncoder['encode']>;

/** A source row the sync cannot take, and why; it goes to `rejects`, never silently away. */
export interface RowReject {
  table: string;
  rowid: bigint;
  reason: string;
  /** The row as JSON (column -> value), so nothing of it is lost. */
  raw: string;
}

/**
 * A FreqTrade table as COPY text, in rowid order: one short SQLite read per chunk of
 * SYNC_BATCH_SIZE rows (FreqTrade's writer is never kept waiting), cancellation checked between
 * chunks, progress reported. Every read starts after the last rowid read, so the reader always
 * advances whatever the key column holds. A row whose key is unusable (not an integer, out of
 * range, NULL, or a repeat of an earlier row's) or that lacks a required value is pushed to
 * `rejects` instead. `keep` drops rows (an order of a missing trade, ...); `prefix` goes before
 * every line (the bot's id, for a COPY straight into the bot's tables); `lineKeys` receives
 * each line's key, so an error PostgreSQL reports for a COPY line can name its row.
 */
export async function* readLines(
  ctx: JobContext,
  source: BotDatabase,
  mapping: TableMapping,
  encoder: RowEncoder,
  progress: { done: number; total: number },
  rejects: RowReject[],
  options: {
    keep?: (row: EncodedRow) => boolean;
    prefix?: string;
    lineKeys?: { push(key: number): void };
    /** Only the rows of a change window. */
    window?: { where: string; params: readonly unknown[] };
  } = {},
): AsyncGenerator<Buffer> {
  const size = ctx.config.SYNC_BATCH_SIZE;
  const keyColumn = mapping.key.source;
  const duplicates = source.duplicateKeys(mapping.source, keyColumn);
  const firstWith = new Map<number, bigint>();
  const columns = source.columnsOf(mapping.source);
  const reject = (row: readonly unknown[], rowid: bigint, reason: string): void => {
    const raw: Record<string, unknown> = {};
    columns.forEach((name, i) => (raw[name] = jsonSafe(row[i])));
    rejects.push({ table: mapping.source, rowid, reason, raw: JSON.stringify(raw) });
  };
  let after = -(2n ** 63n);
  let chunk = new CopyChunk(64 * 1024);
  for (;;) {
    if (ctx.signal.aborted) throw new Error(`bot ${source.bot}: sync aborted`);
    // Rows are visited as SQLite returns them and become garbage at once; their lines go
    // straight into the chunk's buffer (outside the JavaScript heap), so what a chunk leaves
    // behind for the garbage collector is small.
    const read = source.eachInChunk(mapping.source, after, size, options.window, (row) => {
      const rowid = row[row.length - 1] as bigint;
      after = rowid;
      const encoded = encoder.encode(row);
      if (encoded.problem !== undefined) {
        reject(row, rowid, encoded.key === null ? encoded.problem : `${keyColumn} ${encoded.key}: ${encoded.problem}`);
        return;
      }
      const key = encoded.key!;
      if (duplicates.has(key)) {
        const first = firstWith.get(key);
        if (first !== undefined) {
          reject(
            row,
            rowid,
            `${keyColumn} ${key} is duplicated: the row at rowid ${first} has it too and is the one taken`,
          );
          return;
        }
        firstWith.set(key, rowid);
      }
      if (options.keep && !options.keep(encoded)) return;
      options.lineKeys?.push(key);
      if (options.prefix !== undefined) chunk.append(options.prefix);
      chunk.append(encoded.line);
    });
    if (read === 0) return;
    progress.done += read;
    await ctx.progress({ ...progress });
    if (chunk.size > 0) {
      yield chunk.bytes();
      // The next chunk's buffer starts at about this one's size: one allocation per chunk.
      chunk = new CopyChunk(Math.ceil(chunk.size * 1.1));
    }
    if (read < size) return;
  }
}

/** COPY text gathered as UTF-8 bytes in one buffer that grows as lines come. */
class CopyChunk {
  private buffer: Buffer;
  size = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  append(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const needed = this.size + text.length * 3;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, needed));
      this.buffer.copy(grown, 0, 0, this.size);
      this.buffer = grown;
    }
    this.size += this.buffer.write(text, this.size);
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.size);
  }
}

/**
 * Records the rows a sync could not take, in its transaction, replacing the bot's earlier such
 * rejects (a row fixed since is no reject any more): all of them, or with `reread` (a change
 * window) those of the rows read again. Returns how many were recorded.
 */
export async function recordRowRejects(
  client: PoolClient,
  bot: string,
  file: string,
  rejects: readonly RowReject[],
  reread?: ReadonlyArray<{ table: string; rowids: readonly number[] }>,
): Promise<number> {
  if (reread === undefined)
    await client.query(
      `DELETE FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%' AND position LIKE 'rowid %'`,
      [bot],
    );
  else
    await client.query(
      `DELETE FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%'
       AND (collection, position) IN (SELECT t, 'rowid ' || r FROM unnest($2::text[], $3::bigint[]) AS x(t, r))`,
      [bot, reread.flatMap(({ table, rowids }) => rowids.map(() => table)), reread.flatMap(({ rowids }) => rowids)],
    );
  if (rejects.length === 0) return 0;
  await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason, raw)
     SELECT 'bot-sync', t, $1, 'rowid ' || r, $2 || t || ', rowid ' || r || ': ' || why, raw
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS x(t, r, why, raw)
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason, raw = EXCLUDED.raw`,
    [
      `${bot}:${file}`,
      `bot ${bot}: ${file}: table `,
      rejects.map((r) => r.table),
      rejects.map((r) => r.rowid.toString()),
      rejects.map((r) => r.reason),
      rejects.map((r) => r.raw),
    ],
  );
  return rejects.length;
}
