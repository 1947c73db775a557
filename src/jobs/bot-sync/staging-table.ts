import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RowEncoder } from './row-encoder.js';

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A temporary table (dropped at commit) that receives a FreqTrade table's rows by COPY, so the
 * merge into the real table is one set-based statement, whatever the number of rows.
 */
export class StagingTable {
  private constructor(
    readonly name: string,
    readonly encoder: RowEncoder,
  ) {}

  static async create(client: PoolClient, name: string, encoder: RowEncoder): Promise<StagingTable> {
    const columns = encoder.columns.map(([column, type]) => `${quote(column)} ${type}`).join(', ');
    await client.query(`CREATE TEMP TABLE ${quote(name)} (${columns}) ON COMMIT DROP`);
    return new StagingTable(name, encoder);
  }

  /**
   * Streams rows into the table. `chunks` yields batches of COPY lines; the next batch is read
   * while PostgreSQL takes the previous one.
   */
  async copy(client: PoolClient, chunks: AsyncIterable<string>): Promise<void> {
    const stream = client.query(copyFrom(`COPY ${quote(this.name)} FROM STDIN`));
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
    // The planner needs row counts to join the staged rows with the real table well.
    await client.query(`ANALYZE ${quote(this.name)}`);
  }
}
