import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { QueueEvents } from 'bullmq';
import Database from 'better-sqlite3';
import { PermanentJobError } from '../../src/errors.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { enqueue } from '../../src/producers/enqueue.js';
import type { Queues } from '../../src/queues/queues.js';
import { startQueueHarness, type QueueHarness } from '../helpers/queue-harness.js';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

const BAD_SQLITE = path.resolve(fileURLToPath(import.meta.url), '../../fixtures/bad-sqlite');

function installBad(instancesDir: string, instance: string, file: string): string {
  const target = botDbPath(instancesDir, instance);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(path.join(BAD_SQLITE, file), target);
  return target;
}

describe('bot-sync on bad input: a clear error naming the bot and the file, and nothing else lost', () => {
  const dir = tempDir('bad-input');
  const env = suiteEnvironment(
    'bot_sync_bad',
    {
      BOT_INSTANCES_DIR: dir.path,
      SQLITE_BUSY_TIMEOUT: '200ms',
      JOB_ATTEMPTS: '4',
    },
    { dir },
  );

  before(() => {
    createBotDatabase(botDbPath(dir.path, 'good'), { version: 'S06', trades: 25, seed: 4 });
  });

  const permanent: Array<[string, string, RegExp]> = [
    ['not-a-database', 'not-a-database.sqlite', /is not a SQLite database/],
    ['truncated', 'truncated.sqlite', /is corrupt or truncated/],
    ['corrupt', 'corrupt.sqlite', /is corrupt or truncated/],
    ['no-trades', 'no-trades.sqlite', /has no trades table/],
    ['empty', 'empty.sqlite', /has no trades table/],
  ];
  for (const [instance, file, reason] of permanent) {
    it(`refuses ${file} for good, naming the bot and the file`, async () => {
      const target = installBad(dir.path, instance, file);
      const error = await syncBot(recordingContext(env.runtime), instance).then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PermanentJobError, `a retry cannot help: ${String(error)}`);
      assert.match(error.message, reason);
      assert.ok(error.message.includes(`bot ${instance}`) && error.message.includes(target), error.message);
      const state = await env.db.pool.query(
        'SELECT s.last_error FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id WHERE b.instance_id = $1',
        [instance],
      );
      assert.match(state.rows[0].last_error, reason, 'the failure is on record for status');
    });
  }

  it('refuses a missing database file and an instance name that could escape the folder', async () => {
    mkdirSync(path.join(dir.path, 'no-file', 'user_data'), { recursive: true });
    await assert.rejects(syncBot(recordingContext(env.runtime), 'no-file'), (e: unknown) => {
      assert.ok(e instanceof PermanentJobError);
      assert.match(e.message, /bot no-file: no tradesv3\.sqlite or tradesv3\.dryrun\.sqlite in .*no-file\/user_data/);
      return true;
    });
    await assert.rejects(syncBot(recordingContext(env.runtime), '../etc'), /Bot instance name "\.\.\/etc" is refused/);
    await assert.rejects(syncBot(recordingContext(env.runtime), "x'; DROP TABLE bots; --"), /is refused/);
    const bots = await env.db.pool.query("SELECT to_regclass('bots') IS NOT NULL AS present");
    assert.equal(bots.rows[0].present, true, 'bots table still there');
  });

  it('refuses a trades table of a schema it does not know', async () => {
    const file = botDbPath(dir.path, 'alien');
    mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.exec('CREATE TABLE trades (id INTEGER PRIMARY KEY, symbol TEXT, qty REAL)');
    db.close();
    await assert.rejects(syncBot(recordingContext(env.runtime), 'alien'), (e: unknown) => {
      assert.ok(e instanceof PermanentJobError);
      assert.match(
        e.message,
        /bot alien: .*alien\/user_data\/tradesv3\.sqlite: table trades lacks column\(s\) pair, is_open/,
      );
      return true;
    });
  });

  it('keeps bad values and orphan orders visible instead of failing the bot or dropping them silently', async () => {
    const file = botDbPath(dir.path, 'odd-values');
    createFreqtradeDb(file, { trades: 5, ordersPerTrade: 1, seed: 21 });
    const db = new Database(file);
    db.prepare("UPDATE trades SET amount = 'lots', close_date = 'yesterday' WHERE id = 2").run();
    db.prepare('PRAGMA foreign_keys = OFF').run();
    db.prepare(
      "INSERT INTO orders (id, ft_trade_id, ft_order_side, ft_pair, ft_is_open, ft_amount, ft_price, order_id) VALUES (900, 999, 'buy', 'X/USDT', 0, 1, 1, 'orphan')",
    ).run();
    db.close();
    const result = await syncBot(recordingContext(env.runtime), 'odd-values');
    assert.equal(result.trades.inserted, 5);
    assert.equal(result.orders.inserted, 5);
    assert.equal(result.rejected, 1);
    const trade = await env.db.pool.query(
      `SELECT t.amount, t.close_date, t.extra FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = 'odd-values' AND t.trade_id = 2`,
    );
    assert.equal(trade.rows[0].amount, null);
    assert.equal(trade.rows[0].extra['invalid:amount'], 'lots');
    assert.equal(trade.rows[0].extra['invalid:close_date'], 'yesterday');
    const rejects = await env.db.pool.query(
      `SELECT collection, position, reason FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE 'odd-values:%'`,
    );
    assert.deepEqual(rejects.rows, [
      {
        collection: 'orders',
        position: 'id 900',
        reason: 'order 900 belongs to trade 999, which is not in the trades table',
      },
    ]);
  });

  describe('through the queue', () => {
    let harness: QueueHarness;
    let queues: Queues;
    let events: QueueEvents;

    before(async () => {
      harness = await startQueueHarness(env.runtime, 'bot-sync');
      ({ queues, events } = harness);
    });

    after(async () => {
      await harness.stop();
    });

    it('fails a corrupt bot once, without retries, while the good bot beside it completes', async () => {
      const bad = await enqueue(queues, 'bot-sync', { bot: 'corrupt' });
      const good = await enqueue(queues, 'bot-sync', { bot: 'good' });
      await assert.rejects(
        bad.waitUntilFinished(events, 20_000),
        /bot corrupt: .*corrupt\/user_data\/tradesv3\.sqlite is corrupt or truncated/,
      );
      const result = (await good.waitUntilFinished(events, 20_000)) as { trades: { inserted: number } };
      assert.equal(result.trades.inserted, 25);
      const failed = await queues.get('bot-sync')!.getJob(bad.id!);
      assert.equal(failed?.attemptsMade, 1, 'no retry of a corrupt file');
      assert.equal(bad.name, 'bot-sync corrupt');
    });

    it('retries a locked database and completes once the lock is gone', async () => {
      const file = botDbPath(dir.path, 'locked');
      createFreqtradeDb(file, { trades: 20, ordersPerTrade: 1, seed: 31 });
      const holder = new Database(file);
      holder.exec('BEGIN EXCLUSIVE');
      const job = await enqueue(queues, 'bot-sync', { bot: 'locked' });
      // The first attempt fails on the lock and the job waits for its retry.
      const reason = await waitFor(
        'the locked attempt to fail',
        async () => (await queues.get('bot-sync')!.getJob(job.id!))?.failedReason || undefined,
      );
      assert.match(reason, /bot locked: .*locked\/user_data\/tradesv3\.sqlite is locked by another process/);
      holder.exec('COMMIT');
      holder.close();
      const result = (await job.waitUntilFinished(events, 30_000)) as { trades: { inserted: number } };
      assert.equal(result.trades.inserted, 20);
    });
  });
});
