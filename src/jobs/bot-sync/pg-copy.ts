import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

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

/**
 * PostgreSQL COPY text format: one line per row, columns separated by tabs, NULL as \N, and
 * backslash, tab, newline and carriage return escaped in values.
 */
export const COPY_NULL = '\\N';

const SPECIAL = /[\\\t\n\r]/;

export function copyEscape(text: string): string {
  if (!SPECIAL.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
