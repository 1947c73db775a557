import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { botDatabases } from '../../src/bot-sync/bot-database-cache.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { PermanentJobError } from '../../src/errors.js';
import type { JobContext } from '../../src/jobs/job.js';
import { payloadsFromCli } from '../../src/cli/cli-payloads.js';
import type { PushResult } from '../../src/turso/push-bot.js';
import { tursoPushEnabled } from '../../src/bots/sync-config.js';
import { PushLockedError } from '../../src/turso/push-state.js';
import { createClient } from '@libsql/client';
import { onLibsqlStatement } from '../../src/connections/libsql.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { countedHandleUse } from '../helpers/handle-use.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import {
  createTestBot,
  editSource,
  libsqlTables,
  sqliteTables,
  writeSyncConfig,
  type TestBot,
} from '../helpers/turso-bots.js';

describe('turso-push', () => {
  const tracker = failureTracker();
  let root: string;
  let env: TestEnvironment;
  let ctx: JobContext;

  const push = async (instance: string, context: JobContext = ctx) =>
    (await runJob('turso-push', { instance }, context)) as PushResult;

  /** The target holds exactly the source's tables, columns and rows (rowids included). */
  const assertTargetExact = async (bot: TestBot) => {
    const source = sqliteTables(bot.dbPath);
    const target = await libsqlTables(bot.targetUrl, source.keys());
    for (const [name, table] of source) {
      assert.deepEqual(target.get(name)?.columns, table.columns, `${name} columns`);
      assert.equal(target.get(name)?.rows.length, table.rows.length, `${name} row count`);
      assert.deepEqual(target.get(name)?.rows, table.rows, `${name} rows`);
    }
  };

  const recordedGeneration = async (instance: string) =>
    (
      await env.runtime.pg.query<{ generation: string | null }>(
        'SELECT generation FROM turso_push_targets WHERE instance = $1',
        [instance],
      )
    ).rows[0]?.generation;

  /** Loses every trace of a bot's push state in PostgreSQL. */
  const forgetState = async (instance: string) => {
    await env.runtime.pg.query('DELETE FROM turso_push_rows WHERE instance = $1', [instance]);
    await env.runtime.pg.query('DELETE FROM turso_push_targets WHERE instance = $1', [instance]);
  };

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'turso-push-'));
    env = await createTestEnvironment('turso_push', {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_FILE_DIR: path.join(root, 'targets'),
      TURSO_BATCH_BYTES: '20000',
      // Every push compares every row: these edit old rows in place (change-windows.test.ts covers windows).
      FULL_COMPARE_INTERVAL: '0',
    });
    ctx = contextForLocalRun(env.runtime);
  });

  after(async () => {
    botDatabases.closeAll();
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) await rm(root, { recursive: true, force: true });
  });

  describe('one bot through its life', () => {
    let bot: TestBot;
    /** Rows of every table of the source, the number a full push writes. */
    let rows: number;
    before(async () => {
      // FreqTrade 2024.2-2024.7's five tables; two orders per trade, none cancelled, so the edits below change rows.
      bot = await createTestBot(root, 'lifecycle', { version: 'S11', trades: 150, ordersPerTrade: 2, seed: 6 });
      rows = [...sqliteTables(bot.dbPath).values()].reduce((sum, t) => sum + t.rows.length, 0);
    });

    it('pushes every table and row on the first run, trades before orders', async () => {
      const lines: string[] = [];
      const result = await push(bot.name, { ...ctx, log: async (line) => void lines.push(line) });
      assert.equal(result.tables, 5);
      assert.equal(result.pushed, rows);
      assert.equal(result.deleted, 0);
      assert.ok(result.bytes > 0);
      await assertTargetExact(bot);
      const order = lines.filter((l) => /^\w+: \d+ rows/.test(l)).map((l) => l.split(':')[0]);
      assert.ok(order.indexOf('trades') < order.indexOf('orders'), order.join(','));
      assert.ok(lines.every((line) => !line.includes('test-token-not-secret')));
    });

    it('pushes nothing when nothing changed', async () => {
      const result = await push(bot.name);
      assert.deepEqual([result.pushed, result.deleted, result.unchanged, result.fullCompare], [0, 0, rows, false]);
    });

    it('pushes only the changed rows (about 1%)', async () => {
      editSource(
        bot.dbPath,
        "UPDATE trades SET close_profit = 0.123456789 WHERE id = 3; UPDATE orders SET status = 'canceled' WHERE id IN (5, 6); UPDATE pairlocks SET reason = 'x' WHERE id = 1",
      );
      const result = await push(bot.name);
      assert.equal(result.pushed, 4);
      assert.equal(result.deleted, 0);
      assert.equal(result.unchanged, rows - 4);
      await assertTargetExact(bot);
    });

    it('deletes the rows deleted in the source', async () => {
      editSource(
        bot.dbPath,
        'DELETE FROM orders WHERE ft_trade_id = 4; DELETE FROM trades WHERE id = 4; DELETE FROM pairlocks WHERE id < 4',
      );
      const deletedOrders =
        (await libsqlTables(bot.targetUrl, ['orders'])).get('orders')!.rows.length -
        sqliteTables(bot.dbPath).get('orders')!.rows.length;
      const result = await push(bot.name);
      assert.equal(result.pushed, 0);
      assert.equal(result.deleted, deletedOrders + 1 + 3);
      await assertTargetExact(bot);
    });

    it("deletes a trade whose last order's id a new order of another trade took (SQLite reuses the highest id)", async () => {
      /** A copy of the trade's first order, as a new order with the next id (FreqTrade's ids have no AUTOINCREMENT). */
      const newOrder = (trade: number, orderId: string) => `
        CREATE TEMP TABLE new_order AS SELECT * FROM orders WHERE id = (SELECT min(id) FROM orders WHERE ft_trade_id = ${trade});
        UPDATE new_order SET id = (SELECT max(id) + 1 FROM orders), order_id = '${orderId}';
        INSERT INTO orders SELECT * FROM new_order;
        DROP TABLE new_order;`;
      const maxOrderId = () => sqliteTables(bot.dbPath).get('orders')!.rows.at(-1)![0];
      // A partial exit of trade 10: its order takes the highest id.
      editSource(bot.dbPath, newOrder(10, 'partial-exit-10'));
      const partial = maxOrderId();
      const orders = sqliteTables(bot.dbPath).get('orders')!;
      const tradeColumn = orders.columns.indexOf('ft_trade_id') + 1; // rows start with the rowid
      const tradeOrders = orders.rows.filter((r) => r[tradeColumn] === 'i10').length;
      await push(bot.name);
      // Trade 10 deleted with its orders; the next order (of trade 11) takes the partial exit's id.
      editSource(
        bot.dbPath,
        `DELETE FROM orders WHERE ft_trade_id = 10; DELETE FROM trades WHERE id = 10; ${newOrder(11, 'exit-11')}`,
      );
      assert.equal(maxOrderId(), partial, 'the id is reused');
      const sent: string[] = [];
      const stop = onLibsqlStatement((sql) => sent.push(sql.slice(0, 30)));
      const result = await push(bot.name).finally(stop);
      // Each batch keeps the target's foreign keys whole: the order moves off trade 10 before it goes.
      const upsertOrders = sent.findIndex((sql) => sql.startsWith('INSERT INTO "orders"'));
      const deleteTrades = sent.findIndex((sql) => sql.startsWith('DELETE FROM "trades"'));
      assert.ok(upsertOrders >= 0 && deleteTrades > upsertOrders, sent.join(' | '));
      // Trade 10's other orders and the trade go; the reused id is an order changed in place.
      assert.deepEqual([result.pushed, result.deleted], [1, tradeOrders - 1 + 1]);
      await assertTargetExact(bot);
    });

    it('copies orders whose trade was deleted by hand: FreqTrade leaves foreign keys off, so its file can hold them', async () => {
      editSource(bot.dbPath, 'PRAGMA foreign_keys = OFF; DELETE FROM trades WHERE id = 12');
      const orders = sqliteTables(bot.dbPath).get('orders')!;
      const tradeColumn = orders.columns.indexOf('ft_trade_id') + 1; // rows start with the rowid
      const orphans = orders.rows.filter((r) => r[tradeColumn] === 'i12');
      assert.ok(orphans.length > 0, 'orders of the deleted trade');
      const result = await push(bot.name);
      assert.deepEqual([result.pushed, result.deleted], [0, 1]);
      await assertTargetExact(bot);
    });

    it('adds a column a FreqTrade upgrade added, and pushes its values', async () => {
      editSource(
        bot.dbPath,
        "ALTER TABLE trades ADD COLUMN exit_note VARCHAR(100); UPDATE trades SET exit_note = 'note ' || id WHERE id % 2 = 0",
      );
      const trades = sqliteTables(bot.dbPath).get('trades')!.rows.length;
      const result = await push(bot.name);
      assert.equal(result.pushed, trades);
      await assertTargetExact(bot);
      assert.equal((await push(bot.name)).pushed, 0);
    });

    it('keeps 64-bit integers exact both ways', async () => {
      editSource(
        bot.dbPath,
        "INSERT INTO KeyValueStore (id, key, value_type, int_value) VALUES (9007199254740993, 'big', 'int', -9223372036854775807)",
      );
      const result = await push(bot.name);
      assert.equal(result.pushed, 1);
      await assertTargetExact(bot);
      const row = (await libsqlTables(bot.targetUrl, ['KeyValueStore'])).get('KeyValueStore')!.rows.at(-1)!;
      assert.equal(row[0], 'i9007199254740993');
      assert.ok(row.includes('i-9223372036854775807'));
    });

    it('skips reading an unchanged database file, and notices a change to it', async () => {
      // Files changed in the last 2 s are never trusted as unchanged: age this one, and its WAL (a
      // handle kept open, as FreqTrade's and this process's are, keeps the WAL after the edit).
      const aged = async (seconds: number) => {
        const then = new Date(Date.now() - seconds * 1000);
        await utimes(bot.dbPath, then, then);
        if (existsSync(`${bot.dbPath}-wal`)) await utimes(`${bot.dbPath}-wal`, then, then);
      };
      await aged(60);
      assert.equal((await push(bot.name)).pushed, 0);
      const lines: string[] = [];
      const quick = await push(bot.name, { ...ctx, log: async (line) => void lines.push(line) });
      assert.equal(quick.pushed, 0);
      assert.ok(
        lines.some((line) => /database file unchanged since the last push/.test(line)),
        lines.join('\n'),
      );
      editSource(bot.dbPath, "UPDATE trades SET exit_reason = 'changed' WHERE id = 6");
      await aged(30);
      const after = await push(bot.name);
      assert.equal(after.pushed, 1);
      await assertTargetExact(bot);
    });

    it('makes the target exact after lost metadata, without duplicates', async () => {
      await forgetState(bot.name);
      editSource(bot.dbPath, 'UPDATE trades SET amount = amount * 2 WHERE id = 5');
      const result = await push(bot.name);
      assert.equal(result.fullCompare, true);
      assert.equal(result.pushed, 1);
      assert.equal(result.deleted, 0);
      await assertTargetExact(bot);
    });

    it('makes the target exact after records edited in PostgreSQL, without duplicates', async () => {
      // Half-written or tampered records: a hash changed, a row's record gone. With the generation
      // cleared (as a push killed before recording leaves it), nothing recorded is trusted.
      await env.runtime.pg.query(
        "UPDATE turso_push_rows SET row_hash = '\\x00' WHERE instance = $1 AND table_name = 'trades' AND row_key = (SELECT row_key FROM turso_push_rows WHERE instance = $1 AND table_name = 'trades' ORDER BY row_key LIMIT 1)",
        [bot.name],
      );
      await env.runtime.pg.query('UPDATE turso_push_targets SET generation = NULL WHERE instance = $1', [bot.name]);
      editSource(bot.dbPath, 'DELETE FROM pairlocks WHERE id = 10');
      const result = await push(bot.name);
      assert.deepEqual([result.fullCompare, result.pushed, result.deleted], [true, 0, 1]);
      await assertTargetExact(bot);
      assert.equal((await push(bot.name)).fullCompare, false);
    });

    it('compares with the target when it no longer matches the metadata (target reset)', async () => {
      await rm(bot.targetPath);
      const rows = [...sqliteTables(bot.dbPath).values()].reduce((sum, t) => sum + t.rows.length, 0);
      const result = await push(bot.name);
      assert.deepEqual([result.pushed, result.unchanged], [rows, 0]);
      await assertTargetExact(bot);
    });
  });

  describe("the bot's database handle this process keeps", () => {
    const counted = countedHandleUse;

    it("is shared by the bot's pushes and syncs, and each push reads the file's changes exactly", async () => {
      const bot = await createTestBot(root, 'kept-handle', {
        trades: 120,
        ordersPerTrade: 2,
        seed: 21,
        openShare: 0.1,
      });
      assert.equal((await counted(() => push(bot.name))).opens, 1, 'the first push opens the file');
      editSource(bot.dbPath, "UPDATE trades SET exit_reason = 'kept' WHERE id = 7; DELETE FROM pairlocks WHERE id = 2");
      const again = await counted(() => push(bot.name));
      assert.deepEqual([again.opens, again.reuses], [0, 1], 'the next push reuses its handle');
      assert.deepEqual([again.result.pushed, again.result.deleted], [1, 1]);
      await assertTargetExact(bot);
      const synced = await counted(() => syncBot(ctx, bot.name));
      assert.deepEqual([synced.opens, synced.reuses], [0, 1], "the bot's sync reuses the push's handle");
      // A copy of the file, edited, copied over it in place (same inode): the kept handle's pages are stale.
      const copy = `${bot.dbPath}.copy`;
      copyFileSync(bot.dbPath, copy);
      editSource(
        copy,
        'UPDATE orders SET amount = amount + 1 WHERE id = 5; DELETE FROM trade_custom_data WHERE id = 1',
      );
      copyFileSync(copy, bot.dbPath);
      const replaced = await counted(() => push(bot.name));
      assert.equal(replaced.reuses, 1, 'the same handle');
      assert.deepEqual([replaced.result.pushed, replaced.result.deleted], [1, 1]);
      await assertTargetExact(bot);
    });

    it('a file bot-sync refuses (no trades table) is pushed as before, on a handle of its own', async () => {
      const name = 'notes-only';
      const userData = path.join(root, 'bots', name, 'user_data');
      await mkdir(userData, { recursive: true });
      const dbPath = path.join(userData, 'tradesv3.sqlite');
      const db = new Database(dbPath);
      db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('a'), ('b')");
      db.close();
      const targetPath = path.join(root, 'targets', `${name}.db`);
      await writeSyncConfig(root, name, { tursoUrl: `file:${targetPath}`, enabled: true });
      const kept = botDatabases.size;
      const result = await push(name);
      assert.deepEqual([result.tables, result.pushed], [1, 2]);
      await assertTargetExact({ name, dbPath, targetPath, targetUrl: `file:${targetPath}` });
      assert.equal(botDatabases.size, kept, 'no handle kept for it');
    });
  });

  describe('state every worker sees', () => {
    const pg = () => env.runtime.pg;
    const tradeIds = (bot: TestBot) =>
      sqliteTables(bot.dbPath)
        .get('trades')!
        .rows.map((row) => String(row[0]).slice(1));
    const rowCount = (bot: TestBot) =>
      [...sqliteTables(bot.dbPath).values()].reduce((sum, table) => sum + table.rows.length, 0);
    /**
     * Deletes a trade and its orders and inserts them again under new ids (the trade with another
     * pair): deletions and inserts, row counts unchanged.
     */
    const moveTrade = (bot: TestBot, from: string, to: string, pair = 'ETH/USDT') =>
      editSource(
        bot.dbPath,
        `CREATE TEMP TABLE moved_trade AS SELECT * FROM trades WHERE id = ${from};
         CREATE TEMP TABLE moved_orders AS SELECT * FROM orders WHERE ft_trade_id = ${from};
         UPDATE moved_trade SET id = ${to}, pair = '${pair}';
         UPDATE moved_orders SET ft_trade_id = ${to}, id = id + 1000000;
         DELETE FROM orders WHERE ft_trade_id = ${from}; DELETE FROM trades WHERE id = ${from};
         INSERT INTO trades SELECT * FROM moved_trade; INSERT INTO orders SELECT * FROM moved_orders;
         DROP TABLE moved_trade; DROP TABLE moved_orders;`,
      );
    const snapshotState = async (instance: string) => ({
      targets: (await pg().query('SELECT * FROM turso_push_targets WHERE instance = $1', [instance])).rows,
      rows: (await pg().query('SELECT * FROM turso_push_rows WHERE instance = $1', [instance])).rows,
    });
    /** Puts a saved state back (an old copy), optionally as another bot's. */
    const restoreState = async (saved: Awaited<ReturnType<typeof snapshotState>>, as: string, target?: string) => {
      await forgetState(as);
      for (const row of saved.targets)
        await pg().query(
          'INSERT INTO turso_push_targets (instance, target, generation, source_fingerprint, pushed_at) VALUES ($1, $2, $3, $4, $5)',
          [as, target ?? row.target, row.generation, row.source_fingerprint, row.pushed_at],
        );
      await pg().query(
        `INSERT INTO turso_push_rows (instance, table_name, row_key, row_hash)
         SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::bytea[])`,
        [as, saved.rows.map((r) => r.table_name), saved.rows.map((r) => r.row_key), saved.rows.map((r) => r.row_hash)],
      );
    };

    it('stays exact with two workers alternating through deletes, re-inserts and count-keeping inserts', async () => {
      const bot = await createTestBot(root, 'alternating', { version: 'S06', trades: 25, seed: 32 });
      const other = new Runtime(env.config);
      const workerB = contextForLocalRun(other);
      try {
        await push(bot.name);
        await assertTargetExact(bot);
        const old = await snapshotState(bot.name);
        const [first, second] = tradeIds(bot);
        const rows = rowCount(bot);
        moveTrade(bot, first!, '100001');
        assert.equal(rowCount(bot), rows);
        assert.equal((await push(bot.name, workerB)).fullCompare, false);
        await assertTargetExact(bot);
        // The deleted trade comes back with other values; another one moves: counts still equal.
        moveTrade(bot, '100001', first!, 'XRP/USDT');
        moveTrade(bot, second!, '100002');
        await push(bot.name);
        await assertTargetExact(bot);
        // A worker whose state is an old copy (a restored volume, a backup): not trusted.
        await restoreState(old, bot.name);
        moveTrade(bot, '100002', '100003');
        const stale = await push(bot.name, workerB);
        assert.equal(stale.fullCompare, true);
        await assertTargetExact(bot);
        assert.equal(rowCount(bot), rows);
        assert.deepEqual([(await push(bot.name)).pushed, (await push(bot.name, workerB)).pushed], [0, 0]);
      } finally {
        await other.close();
      }
    });

    it("stays exact with another bot's state copied in", async () => {
      const mine = await createTestBot(root, 'copied-into', {
        version: 'S13',
        trades: 75,
        seed: 36,
        customData: false,
      });
      const theirs = await createTestBot(root, 'copied-from', {
        version: 'S13',
        trades: 75,
        seed: 36,
        customData: false,
      });
      await push(mine.name);
      await push(theirs.name);
      moveTrade(theirs, tradeIds(theirs)[0]!, '200001');
      await push(theirs.name);
      // Their records, even claiming our target: their generation is not our target's.
      const saved = await snapshotState(theirs.name);
      await restoreState(saved, mine.name, (await push(mine.name)).target);
      moveTrade(mine, tradeIds(mine)[1]!, '200002');
      const result = await push(mine.name);
      assert.equal(result.fullCompare, true);
      await assertTargetExact(mine);
      await assertTargetExact(theirs);
    });

    it('stays exact when the state is removed between pushes', async () => {
      const bot = await createTestBot(root, 'forgotten', { version: 'S06', trades: 25, seed: 32 });
      await push(bot.name);
      await forgetState(bot.name);
      moveTrade(bot, tradeIds(bot)[0]!, '300001');
      const result = await push(bot.name);
      assert.equal(result.fullCompare, true);
      await assertTargetExact(bot);
      assert.equal((await push(bot.name)).fullCompare, false);
    });

    it('stays exact after a push killed between the remote batch and the state commit', async () => {
      const bot = await createTestBot(root, 'killed-late', { version: 'S05', trades: 106, seed: 31 });
      await push(bot.name);
      // PostgreSQL refuses to record a new generation: the target has committed it, the records not.
      await pg().query(`CREATE FUNCTION refuse_generation() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.generation IS NOT NULL THEN RAISE EXCEPTION 'killed before the state commit'; END IF; RETURN NEW; END $$`);
      await pg().query(
        'CREATE TRIGGER refuse_generation BEFORE INSERT OR UPDATE ON turso_push_targets FOR EACH ROW EXECUTE FUNCTION refuse_generation()',
      );
      try {
        moveTrade(bot, tradeIds(bot)[0]!, '400001');
        await assert.rejects(push(bot.name), /killed before the state commit/);
      } finally {
        await pg().query('DROP TRIGGER refuse_generation ON turso_push_targets');
        await pg().query('DROP FUNCTION refuse_generation()');
      }
      assert.equal(await recordedGeneration(bot.name), null);
      moveTrade(bot, tradeIds(bot)[1]!, '400002');
      const result = await push(bot.name);
      assert.equal(result.fullCompare, true);
      await assertTargetExact(bot);
    });

    it('repairs a row deleted in the target behind our back, and one edited there on a full compare', async () => {
      const bot = await createTestBot(root, 'tampered', { version: 'S13', trades: 75, seed: 36, customData: false });
      await push(bot.name);
      const client = createClient({ url: bot.targetUrl });
      try {
        const [, second] = tradeIds(bot);
        await client.execute('DELETE FROM orders WHERE id = (SELECT max(id) FROM orders)');
        const found = await push(bot.name);
        assert.deepEqual([found.fullCompare, found.pushed], [true, 1]);
        await assertTargetExact(bot);
        await client.execute(`UPDATE trades SET pair = 'EDITED' WHERE id = ${second}`);
        // The records still match the target's generation and counts: only a full compare reads the rows.
        const repaired = (await runJob('turso-push', { instance: bot.name, fullCompare: true }, ctx)) as PushResult;
        assert.deepEqual([repaired.fullCompare, repaired.pushed], [true, 1]);
        await assertTargetExact(bot);
      } finally {
        client.close();
      }
    });

    it('sends Turso nothing it refuses: no journal_mode, busy_timeout or user_version', async () => {
      const bot = await createTestBot(root, 'statements', { version: 'S13', trades: 75, seed: 36, customData: false });
      const sent: string[] = [];
      const stop = onLibsqlStatement((sql) => void sent.push(sql));
      try {
        await push(bot.name);
        moveTrade(bot, tradeIds(bot)[0]!, '500001');
        await push(bot.name);
        await forgetState(bot.name);
        await push(bot.name);
        await runJob('turso-restore', { instance: bot.name, to: path.join(root, 'statements-restored.sqlite') }, ctx);
      } finally {
        stop();
      }
      assert.ok(
        sent.some((sql) => /^INSERT INTO "trades"/.test(sql)),
        'the capture saw the pushed rows',
      );
      assert.ok(
        sent.some((sql) => /FROM sqlite_master/.test(sql)),
        'the capture saw the restore',
      );
      assert.deepEqual(
        sent.filter((sql) => /journal_mode|busy_timeout|user_version/i.test(sql)),
        [],
      );
    });
  });

  describe('the reset guard and --dry-run', () => {
    it('shows per table what a push would do, with sample keys, and writes nothing', async () => {
      const bot = await createTestBot(root, 'dry', { version: 'S06', trades: 25, seed: 32 });
      await push(bot.name);
      editSource(
        bot.dbPath,
        "DELETE FROM orders WHERE id = (SELECT max(id) FROM orders); UPDATE trades SET pair = 'DRY/RUN' WHERE id = (SELECT min(id) FROM trades)",
      );
      const before = await libsqlTables(bot.targetUrl);
      const state = await env.runtime.pg.query('SELECT * FROM turso_push_targets WHERE instance = $1', [bot.name]);
      const dry = (await runJob('turso-push', { instance: bot.name, dryRun: true }, ctx)) as PushResult;
      const trades = dry.plan!.find((p) => p.table === 'trades')!;
      const orders = dry.plan!.find((p) => p.table === 'orders')!;
      assert.deepEqual([trades.inserts, trades.updates, trades.deletes], [0, 1, 0]);
      assert.deepEqual([orders.inserts, orders.updates, orders.deletes], [0, 0, 1]);
      assert.equal(trades.samples.update[0], sqliteTables(bot.dbPath).get('trades')!.rows[0]![0]!.slice(1));
      assert.equal(dry.pushed + dry.deleted, 0);
      assert.deepEqual(await libsqlTables(bot.targetUrl), before);
      assert.deepEqual(
        (await env.runtime.pg.query('SELECT * FROM turso_push_targets WHERE instance = $1', [bot.name])).rows,
        state.rows,
      );
      const real = await push(bot.name);
      assert.deepEqual([real.pushed, real.deleted], [1, 1]);
      await assertTargetExact(bot);
    });

    it('refuses a replaced database that would delete most of the backup, until --accept-reset', async () => {
      const bot = await createTestBot(root, 'replaced', { version: 'S05', trades: 106, seed: 31 });
      await push(bot.name);
      const before = await libsqlTables(bot.targetUrl);
      // A fresh FreqTrade database with a few trades of its own.
      editSource(bot.dbPath, 'DELETE FROM orders WHERE ft_trade_id > 3; DELETE FROM trades WHERE id > 3');
      await assert.rejects(push(bot.name), (error: Error) => {
        assert.ok(error instanceof PermanentJobError, error.message);
        assert.match(error.message, /^bot replaced: .*tradesv3\.sqlite looks replaced/);
        assert.match(error.message, /\d+ of 106 trades \(\d+\.\d%\) would be deleted, above DELETE_GUARD_RATIO 0\.2/);
        assert.match(error.message, /ctp-etl run turso-push --bot replaced --accept-reset=delete/);
        return true;
      });
      assert.deepEqual(await libsqlTables(bot.targetUrl), before);
      const accepted = (await runJob('turso-push', { instance: bot.name, acceptReset: 'delete' }, ctx)) as PushResult;
      assert.ok(accepted.deleted > 0);
      await assertTargetExact(bot);
    });
  });

  describe('a push killed halfway', () => {
    it('leaves a target the next run makes exact, even when the source changed meanwhile', async () => {
      const bot = await createTestBot(root, 'crash', { version: 'S05', trades: 106, seed: 7 });
      const abort = new AbortController();
      let batches = 0;
      const aborting: JobContext = {
        ...contextForLocalRun(env.runtime, abort.signal),
        async progress() {
          batches += 1;
          abort.abort(new Error('killed after the first batch'));
        },
      };
      await assert.rejects(push(bot.name, aborting), /killed after the first batch/);
      assert.equal(batches, 1);
      const partial = await libsqlTables(bot.targetUrl, ['trades', 'orders']);
      const pushedTrades = partial.get('trades')!.rows.length;
      assert.ok(pushedTrades > 0 && pushedTrades < 106, `${pushedTrades} trades after the first batch`);
      assert.equal(await recordedGeneration(bot.name), null);

      // Rows the killed run pushed are deleted in the source before the rerun: none may stay behind.
      editSource(
        bot.dbPath,
        "DELETE FROM orders WHERE ft_trade_id IN (1, 2); DELETE FROM trades WHERE id IN (1, 2); UPDATE trades SET pair = 'ETH/BTC' WHERE id = 3",
      );
      const result = await push(bot.name);
      assert.equal(result.fullCompare, true);
      await assertTargetExact(bot);
      assert.notEqual(await recordedGeneration(bot.name), null);
      assert.equal((await push(bot.name)).pushed, 0);
    });
  });

  describe('one push per bot at a time', () => {
    it('refuses a second push of a bot while the first runs, as a retryable error', async () => {
      const bot = await createTestBot(root, 'locked', { version: 'S11', trades: 4, seed: 8 });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let firstBatch!: () => void;
      const inBatch = new Promise<void>((resolve) => (firstBatch = resolve));
      const holding: JobContext = {
        ...ctx,
        async progress() {
          firstBatch();
          await held;
        },
      };
      const first = push(bot.name, holding);
      await inBatch;
      await assert.rejects(
        push(bot.name),
        (error: Error) => error instanceof PushLockedError && !(error instanceof PermanentJobError),
      );
      release();
      await first;
      await assertTargetExact(bot);
    });
  });

  describe('configuration and errors', () => {
    it('says whether a bot enables pushes, and --all picks the enabled bots only', async () => {
      await createTestBot(root, 'disabled', { version: 'S06', trades: 25, seed: 9 }, { enabled: false });
      assert.equal(await tursoPushEnabled(env.config, 'disabled'), false);
      assert.equal(await tursoPushEnabled(env.config, 'lifecycle'), true);
      assert.equal(await tursoPushEnabled(env.config, 'no-such-bot'), false);
      const payloads = await payloadsFromCli('turso-push', { all: true }, { config: env.config, pg: env.runtime.pg });
      assert.ok(payloads.some((p) => (p as { bot: string }).bot === 'lifecycle'));
      assert.ok(!payloads.some((p) => (p as { bot: string }).bot === 'disabled'));
      const skipped = await push('disabled');
      assert.equal(skipped.skipped, 'disabled in sync-config.json');
    });

    it('fails clearly, naming the bot and its sync-config.json, on a bad URL', async () => {
      await createTestBot(
        root,
        'bad-url',
        { version: 'S08', trades: 1, seed: 10 },
        {
          tursoUrl: `file:${path.join(root, 'no-such-dir', 'x.db')}`,
          tursoToken: 'tok-bad-url-secret',
        },
      );
      await assert.rejects(push('bad-url'), (error: Error) => {
        assert.match(error.message, /bot bad-url/);
        assert.match(error.message, /bad-url[/\\]sync-config\.json/);
        assert.doesNotMatch(error.message, /tok-bad-url-secret/);
        return true;
      });
    });

    it('fails permanently on a refused token, without the token in the error', async () => {
      // A stand-in for Turso that refuses the token and, carelessly, echoes it back.
      const server = http.createServer((request, response) => {
        response.writeHead(401, { 'content-type': 'text/plain' });
        response.end(`Unauthorized: ${request.headers.authorization ?? ''}`);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        await createTestBot(
          root,
          'bad-token',
          { version: 'S08', trades: 1, seed: 10 },
          {
            tursoUrl: `http://127.0.0.1:${port}`,
            tursoToken: 'tok-refused-secret',
          },
        );
        await assert.rejects(push('bad-token'), (error: Error) => {
          assert.ok(error instanceof PermanentJobError, `${error.name}: ${error.message}`);
          assert.match(
            error.message,
            /bot bad-token: .*http:\/\/127\.0\.0\.1:\d+ \(from .*bad-token[/\\]sync-config\.json\) failed: .*401/,
          );
          assert.doesNotMatch(`${error.message} ${error.stack ?? ''}`, /tok-refused-secret/);
          return true;
        });
      } finally {
        server.close();
      }
    });

    it('rejects a malformed sync-config.json, naming the file', async () => {
      await createTestBot(root, 'bad-config', { version: 'S08', trades: 1, seed: 10 });
      await writeSyncConfig(root, 'bad-config', { tursoUrl: 'ftp://example.com', enabled: 'yes' });
      await assert.rejects(
        push('bad-config'),
        (error: Error) =>
          error instanceof PermanentJobError && /bad-config[/\\]sync-config\.json is invalid/.test(error.message),
      );
    });
  });
});
