import type { PoolClient } from 'pg';
import { copyLines, quoteIdent } from './copy-lines.js';
import type { RowEncoder } from './row-encoder.js';

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
    const columns = encoder.columns.map(([column, type]) => `${quoteIdent(column)} ${type}`).join(', ');
    await client.query(`CREATE TEMP TABLE ${quoteIdent(name)} (${columns}) ON COMMIT DROP`);
    return new StagingTable(name, encoder);
  }

  // No ANALYZE after the copy: the planner estimates a never-analysed table's rows from its
  // size, which is all the hash joins of the merge need, and ANALYZE costs more than it saves.
  async copy(client: PoolClient, chunks: AsyncIterable<string>): Promise<void> {
    await copyLines(client, `COPY ${quoteIdent(this.name)} FROM STDIN`, chunks);
  }
}
