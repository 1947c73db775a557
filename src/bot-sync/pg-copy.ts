import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PermanentJobError } from '../errors.js';
import type { BotDatabase } from './bot-database.js';
import type { TableMapping } from './freqtrade-columns.js';

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
