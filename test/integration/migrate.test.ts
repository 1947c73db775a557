import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { PgPool } from '../../src/connections/postgres.js';
import { DEFAULT_MIGRATIONS_DIR, NO_TRANSACTION_MARKER } from '../../src/migrate/migration-files.js';
import { migrate } from '../../src/migrate/migrate.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { testConfig, uniqueName } from '../helpers/test-config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('migrate', () => {
  const config = testConfig(uniqueName('migrate'));
  let db: TestDatabase;
  const tracker = failureTracker();

  before(async () => {
    db = await createTestDatabase(config, { migrate: false });
  });
  after(async () => {
    if (tracker.failed) await db.close();
    else await db.drop();
  });

  const tables = async () =>
    (
      await db.pool.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [config.PG_SCHEMA],
      )
    ).rows.map((row) => row.table_name);

  it('creates every table on an empty schema, then does nothing the second time', async () => {
    const files = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql'));
    const first = await migrate(db.pool, config.PG_SCHEMA);
    assert.equal(first.applied.length, files.length);
    const created = await tables();
    for (const table of [
      'users',
      'bots',
      'trades_aggregated',
      'orders',
      'portfolio_snapshots',
      'strategies',
      'rejects',
      'schema_migrations',
    ]) {
      assert.ok(created.includes(table), `table ${table} exists`);
    }

    const second = await migrate(db.pool, config.PG_SCHEMA);
    assert.deepEqual(second.applied, []);
    assert.equal(second.alreadyApplied, files.length);
    assert.deepEqual(await tables(), created);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM schema_migrations');
    assert.equal(rows[0].n, files.length);
  });

  it('runs safely from several processes at once (advisory lock)', async () => {
    const results = await Promise.all([migrate(db.pool, config.PG_SCHEMA), migrate(db.pool, config.PG_SCHEMA)]);
    assert.deepEqual(
      results.map((r) => r.applied.length),
      [0, 0],
    );
  });

  it('holds amounts above 10^10 and refuses a trade without a bot', async () => {
    const {
      rows: [bot],
    } = await db.pool.query<{ id: string }>("INSERT INTO bots (instance_id) VALUES ('b1') RETURNING id");
    await db.pool.query(
      "INSERT INTO trades_aggregated (bot_id, trade_id, pair, is_open, amount, close_profit_abs, row_hash) VALUES ($1, 1, 'PEPE/USDT', false, '123456789012345.123456789', '-0.000000001', 'h')",
      [bot!.id],
    );
    const { rows } = await db.pool.query('SELECT amount::text, profit_abs::text FROM trades_aggregated');
    assert.deepEqual(rows[0], { amount: '123456789012345.123456789', profit_abs: '-0.000000001' });
    await assert.rejects(
      db.pool.query(
        "INSERT INTO trades_aggregated (bot_id, trade_id, pair, is_open, row_hash) VALUES (NULL, 2, 'X/Y', true, 'h')",
      ),
      /null value in column "bot_id"/,
    );
  });

  it('refuses an order whose bot has no such trade, and deleting a bot removes its orders through its trades', async () => {
    const {
      rows: [bot],
    } = await db.pool.query<{ id: string }>("INSERT INTO bots (instance_id) VALUES ('b-orders') RETURNING id");
    const order = (trade: number) =>
      db.pool.query("INSERT INTO orders (bot_id, order_pk, trade_id, row_hash) VALUES ($1, $2, $2, 'h')", [
        bot!.id,
        trade,
      ]);
    await assert.rejects(order(7), /violates foreign key constraint/);
    await db.pool.query(
      "INSERT INTO trades_aggregated (bot_id, trade_id, pair, is_open, row_hash) VALUES ($1, 7, 'X/Y', true, 'h')",
      [bot!.id],
    );
    await order(7);
    await db.pool.query('DELETE FROM bots WHERE id = $1', [bot!.id]);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM orders WHERE bot_id = $1', [bot!.id]);
    assert.deepEqual(rows[0], { n: 0 });
  });

  it('stops when a landed migration was edited, and rolls back a failing one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ctp-migrations-'));
    const schema = uniqueName('migrate_edit');
    const editConfig = testConfig(schema);
    const editDb = await createTestDatabase(editConfig, { migrate: false });
    try {
      await writeFile(path.join(dir, '001_a.sql'), 'CREATE TABLE a (id int);');
      await migrate(editDb.pool, schema, dir);
      await writeFile(path.join(dir, '001_a.sql'), 'CREATE TABLE a (id bigint);');
      await assert.rejects(migrate(editDb.pool, schema, dir), /001_a\.sql changed after it was applied/);

      await writeFile(path.join(dir, '001_a.sql'), 'CREATE TABLE a (id int);');
      await writeFile(path.join(dir, '002_b.sql'), 'CREATE TABLE b (id int); SELECT no_such_function();');
      await assert.rejects(migrate(editDb.pool, schema, dir), /Migration 002_b\.sql failed/);
      const { rows } = await editDb.pool.query("SELECT to_regclass('b') AS b");
      assert.equal(rows[0].b, null, 'the failed migration left nothing behind');

      await writeFile(path.join(dir, 'bad-name.sql'), '');
      await assert.rejects(migrate(editDb.pool, schema, dir), /is not named NNN_lower_case_name\.sql/);
    } finally {
      await editDb.drop();
      await rm(dir, { recursive: true, force: true });
    }
    assert.ok((await readFile(path.join(DEFAULT_MIGRATIONS_DIR, '001_core.sql'), 'utf8')).length > 0);
  });

  /** A schema of its own (created, dropped afterwards) and a folder of migration files for one test. */
  async function scratch(
    label: string,
  ): Promise<{ schema: string; dir: string; db: TestDatabase; done(): Promise<void> }> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ctp-migrations-'));
    const schema = uniqueName(label);
    const scratchDb = await createTestDatabase(testConfig(schema), { migrate: false });
    return {
      schema,
      dir,
      db: scratchDb,
      async done() {
        if (tracker.failed) await scratchDb.close();
        else await scratchDb.drop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  const indexes = async (pool: PgPool, schema: string) =>
    (
      await pool.query<{ name: string; valid: boolean }>(
        `SELECT c.relname AS name, i.indisvalid AS valid
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname LIKE 'idx%' ORDER BY c.relname`,
        [schema],
      )
    ).rows;

  it('applies a no-transaction file statement by statement, recorded once, from two processes at once', async () => {
    const { schema, dir, db: scratchDb, done } = await scratch('migrate_nontx');
    try {
      await writeFile(
        path.join(dir, '001_a.sql'),
        "CREATE TABLE a (id int, note text);\nINSERT INTO a VALUES (1, 'x;y');",
      );
      await writeFile(
        path.join(dir, '002_a_indexes.sql'),
        `${NO_TRANSACTION_MARKER}\n-- two indexes; a semicolon in a comment; and in a string\n` +
          `CREATE INDEX CONCURRENTLY idx_a_id ON a (id);\n` +
          `CREATE INDEX CONCURRENTLY "idx_A;note" ON a (note) WHERE note <> ';';\n`,
      );
      // The second waits for the first's lock while the first builds concurrently: its wait must
      // not be one of the transactions the build waits for.
      const runs = await Promise.all([migrate(scratchDb.pool, schema, dir), migrate(scratchDb.pool, schema, dir)]);
      assert.deepEqual(runs.map((run) => run.applied).sort(), [[], ['001_a', '002_a_indexes']]);
      assert.deepEqual(await indexes(scratchDb.pool, schema), [
        { name: 'idx_A;note', valid: true },
        { name: 'idx_a_id', valid: true },
      ]);
      const { rows } = await scratchDb.pool.query<{ version: string }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      assert.deepEqual(
        rows.map((row) => row.version),
        ['001', '002'],
      );
      const again = await migrate(scratchDb.pool, schema, dir);
      assert.deepEqual(again, { applied: [], alreadyApplied: 2 });
    } finally {
      await done();
    }
  });

  it('rebuilds an index whose concurrent build was interrupted, and keeps the ones already built', async () => {
    const { schema, dir, db: scratchDb, done } = await scratch('migrate_resume');
    // A name of this run's own: the cancel below looks for its statement among every session.
    const slowIndex = `idx_${schema.replace(/[^a-z0-9]/g, '').slice(-12)}_v`;
    try {
      await writeFile(
        path.join(dir, '001_a.sql'),
        'CREATE TABLE a (id int, v int);\nINSERT INTO a SELECT g, (g::bigint * 7919 % 1000003)::int FROM generate_series(1, 3000000) g;',
      );
      await migrate(scratchDb.pool, schema, dir);
      await writeFile(
        path.join(dir, '002_a_indexes.sql'),
        `${NO_TRANSACTION_MARKER}\nCREATE INDEX CONCURRENTLY idx_a_id ON a (id);\n` +
          `CREATE INDEX CONCURRENTLY ${slowIndex} ON a (v, id);\n`,
      );
      let settled = false;
      const interrupted = migrate(scratchDb.pool, schema, dir).finally(() => {
        settled = true;
      });
      let cancelled = false;
      while (!cancelled && !settled) {
        const { rows } = await scratchDb.pool.query<{ cancelled: boolean }>(
          // Once the build has entered the index in the catalog: the state an interruption leaves.
          `SELECT pg_cancel_backend(pid) AS cancelled FROM pg_stat_activity
            WHERE query LIKE $1 AND to_regclass(format('%I.%I', $2::text, $3::text)) IS NOT NULL`,
          [`CREATE INDEX CONCURRENTLY ${slowIndex} %`, schema, slowIndex],
        );
        cancelled = rows[0]?.cancelled === true;
        if (!cancelled) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await assert.rejects(interrupted, /Migration 002_a_indexes\.sql failed: canceling statement/);
      assert.deepEqual(await indexes(scratchDb.pool, schema), [
        { name: 'idx_a_id', valid: true },
        { name: slowIndex, valid: false },
      ]);

      const resumed = await migrate(scratchDb.pool, schema, dir);
      assert.deepEqual(resumed.applied, ['002_a_indexes']);
      assert.deepEqual(await indexes(scratchDb.pool, schema), [
        { name: 'idx_a_id', valid: true },
        { name: slowIndex, valid: true },
      ]);
    } finally {
      await done();
    }
  });

  it('builds 011 and 015 on a populated trades_aggregated without holding a concurrent writer', async () => {
    const { schema, dir, db: scratchDb, done } = await scratch('migrate_online');
    try {
      // The install as it stood before 011: its files are the repository's, so the later full run
      // finds them applied and builds 011 and 015 only.
      for (const name of await readdir(DEFAULT_MIGRATIONS_DIR)) {
        if (name.endsWith('.sql') && name < '011')
          await copyFile(path.join(DEFAULT_MIGRATIONS_DIR, name), path.join(dir, name));
      }
      await migrate(scratchDb.pool, schema, dir);
      const bots = 20;
      const tradesPerBot = 100_000;
      await scratchDb.pool.query(
        `INSERT INTO bots (instance_id) SELECT 'bot-' || g FROM generate_series(1, $1::int) g`,
        [bots],
      );
      await scratchDb.pool.query(
        `INSERT INTO trades_aggregated (bot_id, trade_id, pair, is_open, open_date, row_hash)
           SELECT b.id, g, 'BTC/USDT', g % 1000 = 0, now() - g * interval '1 minute', md5(g::text)
             FROM bots b, generate_series(1, $1::int) g`,
        [tradesPerBot],
      );
      const {
        rows: [bot],
      } = await scratchDb.pool.query<{ id: string }>("SELECT id FROM bots WHERE instance_id = 'bot-1'");

      // A sync's writes, one at a time as fast as they go, each timed, for as long as migrate runs.
      let migrating = true;
      const writer = await scratchDb.pool.connect();
      const writes = (async () => {
        let slowestMs = 0;
        let count = 0;
        for (let trade = tradesPerBot + 1; migrating; trade += 1) {
          const started = performance.now();
          await writer.query(
            `INSERT INTO trades_aggregated (bot_id, trade_id, pair, is_open, open_date, row_hash)
             VALUES ($1, $2, 'ETH/USDT', true, now(), 'h')`,
            [bot!.id, trade],
          );
          await writer.query(
            `UPDATE trades_aggregated SET is_open = false, close_profit_abs = 1.5 WHERE bot_id = $1 AND trade_id = $2`,
            [bot!.id, trade],
          );
          slowestMs = Math.max(slowestMs, performance.now() - started);
          count += 1;
        }
        return { slowestMs, count };
      })();
      const started = performance.now();
      let result: Awaited<ReturnType<typeof migrate>>;
      try {
        result = await migrate(scratchDb.pool, schema);
      } finally {
        migrating = false;
      }
      const migrateMs = performance.now() - started;
      const { slowestMs, count } = await writes;
      writer.release();

      assert.deepEqual(
        result.applied.filter((name) => name === '011_trades_latest' || name === '015_open_rows'),
        ['011_trades_latest', '015_open_rows'],
      );
      // Without this the test could not tell: a build in a transaction holds writes for as long.
      assert.ok(migrateMs > 1000, `the indexes took ${Math.round(migrateMs)} ms to build, too few to tell`);
      assert.ok(count > 10, `the writer wrote ${count} times during the migration`);
      assert.ok(slowestMs < 1000, `a write waited ${Math.round(slowestMs)} ms for the migration`);
      assert.deepEqual(
        (await indexes(scratchDb.pool, schema)).filter((index) =>
          ['idx_trades_bot_latest', 'idx_trades_bot_unsettled', 'idx_orders_bot_open'].includes(index.name),
        ),
        [
          { name: 'idx_orders_bot_open', valid: true },
          { name: 'idx_trades_bot_latest', valid: true },
          { name: 'idx_trades_bot_unsettled', valid: true },
        ],
      );
      console.log(`migrate ${Math.round(migrateMs)} ms, ${count} writes, slowest ${Math.round(slowestMs)} ms`);
    } finally {
      await done();
    }
  });

  it('leaves alone an install that applied 011 and 015 when they built their indexes in a transaction', async () => {
    const { schema, db: scratchDb, done } = await scratch('migrate_landed');
    try {
      await migrate(scratchDb.pool, schema);
      // The checksums the files had before they built concurrently, as such an install recorded them.
      const landed = {
        '011': 'c571ca317c78364ed51b43381241b14cdfb12851c3571883307cfc17c85a0303',
        '015': 'a70071c61cda72af539e1ce7e82c2b1ad84fd87af7f389e62dd9e81de4b92c51',
      };
      for (const [version, checksum] of Object.entries(landed)) {
        await scratchDb.pool.query('UPDATE schema_migrations SET checksum = $2 WHERE version = $1', [
          version,
          checksum,
        ]);
      }
      const again = await migrate(scratchDb.pool, schema);
      assert.deepEqual(again.applied, []);
      const { rows } = await scratchDb.pool.query<{ version: string; checksum: string }>(
        "SELECT version, checksum FROM schema_migrations WHERE version IN ('011', '015') ORDER BY version",
      );
      assert.deepEqual(
        rows,
        Object.entries(landed).map(([version, checksum]) => ({ version, checksum })),
      );
      await scratchDb.pool.query("UPDATE schema_migrations SET checksum = 'other' WHERE version = '011'");
      await assert.rejects(migrate(scratchDb.pool, schema), /011_trades_latest\.sql changed after it was applied/);
    } finally {
      await done();
    }
  });
});
