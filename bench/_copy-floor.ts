import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { ordersMapping, tradesMapping, type TableMapping } from '../src/bot-sync/freqtrade-columns.js';

/** Every column a sync writes, in its COPY's order: the bot, the key, the mapped columns, extra, the row hash. */
function syncedColumns(mapping: TableMapping): string {
  return ['bot_id', mapping.key.target, ...Object.keys(mapping.columns), 'extra', 'row_hash']
    .map((c) => `"${c}"`)
    .join(', ');
}

const TABLES = [
  { mapping: tradesMapping, floor: 'floor_trades' },
  { mapping: ordersMapping, floor: 'floor_orders' },
] as const;

/**
 * The floor a first sync is measured against: the very rows the sync wrote for a bot, every one
 * of their columns, already as COPY text in memory, loaded by one plain COPY per table into
 * tables with the same columns, defaults, generated columns and indexes (LIKE ... INCLUDING ALL:
 * primary key, (bot, key) unique, the same secondary indexes), committed like a sync. What it
 * leaves out is what makes a sync a sync: reading SQLite, encoding and hashing every value, the
 * foreign keys, the bot's lock and sync state.
 */
export async function createFloorTables(client: PoolClient): Promise<void> {
  for (const { mapping, floor } of TABLES)
    await client.query(`CREATE TABLE ${floor} (LIKE "${mapping.target}" INCLUDING ALL)`);
}

/** The bot's synced rows as COPY text (not timed). */
export async function exportSyncedRows(client: PoolClient, botId: string): Promise<Buffer[][]> {
  const tables: Buffer[][] = [];
  for (const { mapping } of TABLES) {
    const chunks: Buffer[] = [];
    const stream = client.query(
      copyTo(
        `COPY (SELECT ${syncedColumns(mapping)} FROM "${mapping.target}" WHERE bot_id = '${botId}' ORDER BY "${mapping.key.target}") TO STDOUT`,
      ),
    );
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    tables.push(chunks);
  }
  return tables;
}

/** Loads exported rows into the floor tables in one transaction; returns the rows copied. */
export async function copyFloor(client: PoolClient, exported: Buffer[][]): Promise<number> {
  let rows = 0;
  await client.query('BEGIN');
  for (const [i, { mapping, floor }] of TABLES.entries()) {
    const stream = client.query(copyFrom(`COPY ${floor} (${syncedColumns(mapping)}) FROM STDIN`));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
    });
    for (const chunk of exported[i]!) stream.write(chunk);
    stream.end();
    await done;
    rows += stream.rowCount;
  }
  await client.query('COMMIT');
  return rows;
}
