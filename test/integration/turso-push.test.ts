import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermanentJobError } from '../../src/errors.js';
import type { JobContext } from '../../src/jobs/job.js';
import { payloadsFromCli } from '../../src/cli/cli-payloads.js';
import type { PushResult } from '../../src/jobs/turso/push-bot.js';
import { tursoPushEnabled } from '../../src/jobs/turso/push-enabled.js';
import { PushLockedError } from '../../src/jobs/turso/push-lock.js';
import { pushMarkerPath, pushStatePath } from '../../src/jobs/turso/push-state.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
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

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'turso-push-'));
    env = await createTestEnvironment('turso_push', {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_STATE_DIR: path.join(root, 'state'),
      TURSO_BATCH_BYTES: '20000',
    });
    ctx = contextForLocalRun(env.runtime);
  });

  after(async () => {
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
      // Files changed in the last 2 s are never trusted as unchanged: age this one.
      const aged = async (seconds: number) =>
        utimes(bot.dbPath, new Date(Date.now() - seconds * 1000), new Date(Date.now() - seconds * 1000));
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
      await rm(pushStatePath(env.config, bot.name));
      editSource(bot.dbPath, 'UPDATE trades SET amount = amount * 2 WHERE id = 5');
      const result = await push(bot.name);
      assert.equal(result.fullCompare, true);
      assert.equal(result.pushed, 1);
      assert.equal(result.deleted, 0);
      await assertTargetExact(bot);
    });

    it('makes the target exact after corrupt metadata, without duplicates', async () => {
      await writeFile(pushStatePath(env.config, bot.name), '{"version":1,"target":');
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
      await readFile(pushMarkerPath(env.config, bot.name));

      // Rows the killed run pushed are deleted in the source before the rerun: none may stay behind.
      editSource(
        bot.dbPath,
        "DELETE FROM orders WHERE ft_trade_id IN (1, 2); DELETE FROM trades WHERE id IN (1, 2); UPDATE trades SET pair = 'ETH/BTC' WHERE id = 3",
      );
      const result = await push(bot.name);
      assert.equal(result.fullCompare, true);
      await assertTargetExact(bot);
      await assert.rejects(readFile(pushMarkerPath(env.config, bot.name)), { code: 'ENOENT' });
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
      assert.ok(payloads.some((p) => (p as { instance: string }).instance === 'lifecycle'));
      assert.ok(!payloads.some((p) => (p as { instance: string }).instance === 'disabled'));
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
