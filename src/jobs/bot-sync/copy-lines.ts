import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * Streams COPY text into PostgreSQL; the next chunk is produced while PostgreSQL takes the
 * previous one. Returns the number of rows copied.
 */
export async function copyLines(client: PoolClient, copySql: string, chunks: AsyncIterable<string>): Promise<number> {
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
