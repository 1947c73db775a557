import assert from 'node:assert/strict';
import { copyFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';
import { FreqtradeMutator } from '../../scripts/freqtrade/mutations.js';
import { botDatabases } from '../../src/bot-sync/bot-database-cache.js';
import { dryRunBot } from '../../src/bot-sync/dry-run.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { ResetSuspectedError } from '../../src/bots/reset-guard.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { countedHandleUse } from '../helpers/handle-use.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

/**
 * A worker keeps a bot's database open between its syncs (SQLITE_HANDLE_CACHE), and each sync
 * reads it as a fresh open would: another file in its place, a schema changed, no read
 * transaction left to hold FreqTrade's checkpoints back, idle handles closed.
 */
describe("bot-sync keeps a bot's database open between its syncs, and reads it as a fresh open would", () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('bot-sync-handles');
  const bots = () => path.join(dir.path, 'bots');

  before(async () => {
    env = await createTestEnvironment('bot_sync_handles', { BOT_INSTANCES_DIR: bots(), FULL_COMPARE_INTERVAL: '1h' });
  });

  after(async () => {
    botDatabases.closeAll();
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  const ctx = (settings: { SQLITE_HANDLE_CACHE?: number; SQLITE_HANDLE_IDLE?: number } = {}) => {
    const base = recordingContext(env.runtime);
    return { ...base, config: { ...base.config, ...settings } };
  };

  /** What a full compare (a fresh open's dry run) would still change: nothing when PostgreSQL equals the file. */
  async function differences(bot: string): Promise<number> {
    const plan = await dryRunBot(ctx(), bot);
    const tables = [plan.trades, plan.orders, ...Object.values(plan.otherTables)];
    return tables.reduce((n, t) => n + t.inserted.count + t.updated.count + t.deleted.count, 0);
  }

  const counted = countedHandleUse;

  it('a bot synced again reuses its handle, and every row is exact after each change', async () => {
    const bot = 'kept';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 300, seed: 1, openShare: 0.1 });
    assert.equal((await counted(() => syncBot(ctx(), bot))).opens, 1);
    const mutator = new FreqtradeMutator(file, 1);
    try {
      for (const kind of ['open', 'close', 'partial-exit', 'delete-trade', 'lock', 'wallet'] as const) {
        assert.ok(mutator.apply(kind), `${kind} applied`);
        const run = await counted(() => syncBot(ctx(), bot));
        assert.deepEqual([run.opens, run.reuses], [0, 1], `${kind}: the kept handle read the change`);
        assert.equal(await differences(bot), 0, `${kind}: PostgreSQL equals the file`);
      }
    } finally {
      mutator.close();
    }
  });

  it('with SQLITE_HANDLE_CACHE=0, each sync opens and closes the file', async () => {
    const bot = 'uncached';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 50, seed: 2 });
    await syncBot(ctx({ SQLITE_HANDLE_CACHE: 0 }), bot);
    const db = new Database(file);
    db.prepare('UPDATE trades SET max_rate = coalesce(max_rate, 0) + 1 WHERE id = 1').run();
    db.close();
    const run = await counted(() => syncBot(ctx({ SQLITE_HANDLE_CACHE: 0 }), bot));
    assert.deepEqual([run.opens, run.reuses], [1, 0]);
    assert.equal(botDatabases.size, 0, 'nothing kept');
    assert.equal(await differences(bot), 0);
  });

  /**
   * The same replacement of two bots' files, one synced with the cache and one without: the
   * reset guard's verdict is the same (the message but for the bot's name and file), and so is
   * what an accepted reset leaves.
   */
  async function replacedBothWays(
    name: string,
    replace: (file: string, bot: string) => void,
  ): Promise<{ cached: string; fresh: string }> {
    const messages: Record<string, string> = {};
    for (const [way, settings] of [
      ['cached', { SQLITE_HANDLE_CACHE: 64 }],
      ['fresh', { SQLITE_HANDLE_CACHE: 0 }],
    ] as const) {
      const bot = `${name}-${way}`;
      const file = botDbPath(bots(), bot);
      createBotDatabase(file, { trades: 300, seed: 5 });
      await syncBot(ctx(settings), bot);
      replace(file, bot);
      const error = await syncBot(ctx(settings), bot).then(
        () => assert.fail(`${way}: expected the sync to be refused`),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ResetSuspectedError, `${way}: ${String(error)}`);
      messages[way] = error.message.replaceAll(bot, 'BOT').replace(/inode \d+/g, 'inode N');
      const accepted = await syncBot(ctx(settings), bot, { acceptReset: 'archive' });
      assert.equal(accepted.reset?.trades, 300, `${way}: the old trades archived`);
      assert.equal(await differences(bot), 0, `${way}: PostgreSQL equals the new file`);
    }
    return { cached: messages.cached!, fresh: messages.fresh! };
  }

  it("the reset guard refuses another FreqTrade version's file moved into place, as without the cache", async () => {
    const { cached, fresh } = await replacedBothWays('version', (file) => {
      const other = `${file}.other`;
      createBotDatabase(other, { trades: 10, seed: 6, version: 'S09' });
      renameSync(other, file);
    });
    assert.match(cached, /the file is another file than at the last run/);
    assert.equal(cached, fresh);
  });

  it("the reset guard refuses another bot's file copied over the file in place (same inode, same schema), as without the cache", async () => {
    const other = path.join(dir.path, 'other-bot.sqlite');
    createBotDatabase(other, { trades: 20, seed: 7 });
    const { cached, fresh } = await replacedBothWays('in-place', (file) => copyFileSync(other, file));
    assert.match(cached, /280 of 300 trades/);
    assert.equal(cached, fresh);
  });

  it('a column added to trades between syncs (a FreqTrade upgrade): the kept handle plans again, every row exact', async () => {
    const bot = 'upgraded';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 100, seed: 8 });
    await syncBot(ctx(), bot);
    const db = new Database(file);
    db.exec(`ALTER TABLE trades ADD COLUMN new_setting TEXT DEFAULT 'a'`);
    db.prepare(`UPDATE trades SET new_setting = 'b', max_rate = coalesce(max_rate, 0) + 1 WHERE id = 3`).run();
    db.close();
    const run = await counted(() => syncBot(ctx(), bot));
    assert.equal(run.reuses, 1, 'the same handle, planned again');
    assert.match(run.result.fullCompare ?? '', /schema changed/);
    assert.equal(await differences(bot), 0, 'the new column is in every row');
    const { rows } = await env.db.pool.query<{ setting: string }>(
      `SELECT t.extra->>'new_setting' AS setting FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id
       WHERE b.instance_id = $1 AND t.trade_id = 3`,
      [bot],
    );
    assert.equal(rows[0]?.setting, 'b');
  });

  it("after a sync the kept handle holds no read transaction: FreqTrade's checkpoint is not held back", async () => {
    const bot = 'checkpointed';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 100, seed: 9, wal: true });
    const writer = new Database(file);
    try {
      writer.prepare('UPDATE trades SET max_rate = coalesce(max_rate, 0) + 1 WHERE id = 1').run();
      await syncBot(ctx(), bot);
      writer.prepare('UPDATE trades SET max_rate = coalesce(max_rate, 0) + 1 WHERE id = 2').run();
      const run = await counted(() => syncBot(ctx(), bot));
      assert.equal(run.reuses, 1);
      assert.ok(botDatabases.size > 0, 'the handle is kept open');
      writer.prepare('UPDATE trades SET max_rate = coalesce(max_rate, 0) + 1 WHERE id = 3').run();
      const [checkpoint] = writer.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number }>;
      assert.deepEqual({ busy: checkpoint!.busy, log: checkpoint!.log }, { busy: 0, log: 0 }, 'checkpointed whole');
    } finally {
      writer.close();
    }
  });

  it('a failed run closes its handle; two runs of one bot at once never share one', async () => {
    const bot = 'twice';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 20, seed: 10 });
    const config = ctx().config;
    const first = await botDatabases.checkout(bot, file, config);
    const second = await botDatabases.checkout(bot, file, config);
    assert.notEqual(first.source, second.source, 'a handle lent out is not lent again');
    botDatabases.release(first, true);
    botDatabases.release(second, true);
    assert.ok(!second.source.db.open, 'one handle per file is kept; the other closed');
    const third = await botDatabases.checkout(bot, file, config);
    assert.equal(third.source, first.source);
    third.source.db.exec('BEGIN');
    botDatabases.release(third, false);
    assert.ok(!third.source.db.open, "a failed run's handle is closed, not kept");
  });

  it('a fleet larger than SQLITE_HANDLE_CACHE, synced in turn, keeps that many handles and reuses them; every row exact', async () => {
    botDatabases.closeAll();
    const fleet = ['turn-a', 'turn-b', 'turn-c', 'turn-d'];
    for (const [i, bot] of fleet.entries()) createBotDatabase(botDbPath(bots(), bot), { trades: 30, seed: 20 + i });
    const small = ctx({ SQLITE_HANDLE_CACHE: 2 });
    const rounds: Array<{ opens: number; reuses: number }> = [];
    for (let round = 0; round < 3; round += 1) {
      const used = { opens: 0, reuses: 0 };
      for (const bot of fleet) {
        const db = new Database(botDbPath(bots(), bot));
        db.prepare('UPDATE trades SET max_rate = coalesce(max_rate, 0) + 1 WHERE id = 1').run();
        db.close();
        const run = await counted(() => syncBot(small, bot));
        used.opens += run.opens;
        used.reuses += run.reuses;
      }
      rounds.push(used);
      assert.equal(botDatabases.size, 2, `round ${round}: the cache holds its 2 places`);
    }
    // The least recently used evicted would have reopened all 4 in every round (each evicted just before its turn).
    assert.deepEqual(rounds, [
      { opens: 4, reuses: 0 },
      { opens: 2, reuses: 2 },
      { opens: 2, reuses: 2 },
    ]);
    for (const bot of fleet) assert.equal(await differences(bot), 0, `${bot}: PostgreSQL equals the file`);
    botDatabases.closeAll();
  });

  it('a handle idle for SQLITE_HANDLE_IDLE is closed', async () => {
    const bot = 'idle';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 20, seed: 11 });
    const lease = await botDatabases.checkout(bot, file, { ...ctx().config, SQLITE_HANDLE_IDLE: 100 });
    botDatabases.release(lease, true);
    assert.ok(lease.source.db.open, 'kept');
    await sleep(400);
    assert.ok(!lease.source.db.open, 'closed once idle');
    assert.equal(botDatabases.size, 0);
  });
});
