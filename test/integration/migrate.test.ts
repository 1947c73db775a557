import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_MIGRATIONS_DIR } from '../../src/migrate/migration-files.js';
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
});
