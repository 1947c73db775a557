import type { JobContext } from '../job.js';
import type { BotDatabase } from './bot-database.js';
import type { TableMapping } from './freqtrade-columns.js';
import type { RowEncoder } from './row-encoder.js';

export type EncodedRow = ReturnType<RowEncoder['encode']>;

/**
 * A FreqTrade table as COPY text, in key order: one short SQLite read per chunk of
 * SYNC_BATCH_SIZE rows (FreqTrade's writer is never kept waiting), cancellation checked between
 * chunks, progress reported. `keep` drops rows (an order of a missing trade, ...); `prefix` goes
 * before every line (the bot's id, for a COPY straight into the bot's tables).
 */
export async function* readLines(
  ctx: JobContext,
  source: BotDatabase,
  mapping: TableMapping,
  encoder: RowEncoder,
  progress: { done: number; total: number },
  options: { keep?: (row: EncodedRow) => boolean; prefix?: string } = {},
): AsyncGenerator<string> {
  const size = ctx.config.SYNC_BATCH_SIZE;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    if (ctx.signal.aborted) throw new Error(`bot ${source.bot}: sync aborted`);
    const rows = source.chunk(mapping.source, mapping.key.source, after, size);
    if (rows.length === 0) return;
    let text = '';
    for (const row of rows) {
      const encoded = encoder.encode(row);
      if (encoded.key !== null) after = encoded.key;
      if (options.keep && !options.keep(encoded)) continue;
      text += options.prefix === undefined ? encoded.line : options.prefix + encoded.line;
    }
    progress.done += rows.length;
    await ctx.progress({ ...progress });
    if (text !== '') yield text;
    if (rows.length < size) return;
  }
}
