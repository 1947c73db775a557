import assert from 'node:assert/strict';
import { copyFileSync, renameSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { QueueEvents } from 'bullmq';
import Database from 'better-sqlite3';
import { ResetSuspectedError } from '../../src/bots/reset-guard.js';
import { PermanentJobError } from '../../src/errors.js';
import { botSyncContract } from '../../src/jobs/bot-sync/contract.js';
import type { CliJobOptions } from '../../src/jobs/job.js';
import type { BotSyncDryRun } from '../../src/bot-sync/dry-run.js';
import { dryRunBot } from '../../src/bot-sync/dry-run.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { enqueue } from '../../src/producers/enqueue.js';
import { botDbPath, createFreqtradeDb, insertTrades } from '../../scripts/freqtrade/fixtures.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { recordingContext } from '../helpers/job-context.js';
import { startQueueHarness, type QueueHarness } from '../helpers/queue-harness.js';
import { tempDir } from '../helpers/temp-dir.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

describe('bot-sync and a replaced bot database: refused until accepted, history kept', () => {
  const dir = tempDir('bot-reset');
  const env = suiteEnvironment('bot_sync_reset', { BOT_INSTANCES_DIR: dir.path }, { dir });

  const sync = (bot: string, options = {}) => syncBot(recordingContext(env.runtime), bot, options);

  async function count(table: string, bot: string): Promise<number> {
    const { rows } = await env.db.pool.query(
      `SELECT count(*)::int AS n FROM ${table} t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1`,
      [bot],
    );
    return rows[0].n;
  }

  /** A bot synced with `trades` trades, then its file replaced by a fresh one (a new file, as FreqTrade's reset makes). */
  async function replacedBot(bot: string, trades: number, fresh: { trades: number; seed: number }): Promise<string> {
    const file = botDbPath(dir.path, bot);
    createFreqtradeDb(file, { trades, ordersPerTrade: 1, seed: 5 });
    assert.equal((await sync(bot)).trades.inserted, trades);
    const next = `${file}.new`;
    createFreqtradeDb(next, { trades: fresh.trades, ordersPerTrade: 1, seed: fresh.seed });
    renameSync(next, file);
    return file;
  }

  async function refusal(bot: string): Promise<ResetSuspectedError> {
    const error = await sync(bot).then(
      () => assert.fail('expected the sync to be refused'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ResetSuspectedError, String(error));
    assert.ok(error instanceof PermanentJobError, 'a retry finds the same file');
    return error;
  }

  it('refuses a fresh 10-trade file in place of a 300-trade one, naming the bot, what it found and the way out', async () => {
    const file = await replacedBot('reset-bot', 300, { trades: 10, seed: 5 });
    const error = await refusal('reset-bot');
    assert.match(error.message, new RegExp(`^bot reset-bot: ${file.replaceAll('.', '\\.')} looks replaced`));
    assert.match(error.message, /the file is another file than at the last run/);
    assert.match(error.message, /290 of 300 trades \(96\.7%\) would be deleted, above DELETE_GUARD_RATIO 0\.2/);
    assert.match(error.message, /ctp-etl run bot-sync --bot reset-bot --accept-reset=archive/);
    assert.match(error.message, /--accept-reset=delete/);
    assert.equal(await count('trades_aggregated', 'reset-bot'), 300, 'the history is still there');
    assert.equal(await count('orders', 'reset-bot'), 300);
    const state = await env.db.pool.query(
      `SELECT s.last_error FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id WHERE b.instance_id = 'reset-bot'`,
    );
    assert.match(state.rows[0].last_error, /looks replaced/, 'status shows it');
  });

  it('keeps the old rows as an archived epoch when the reset is accepted with archive', async () => {
    const others = ['pairlocks', 'trade_custom_data', 'wallet_history', 'key_value_store'] as const;
    const held = Object.fromEntries(await Promise.all(others.map(async (t) => [t, await count(t, 'reset-bot')])));
    // createFreqtradeDb writes no custom data (its tests delete trades freely).
    for (const table of others.filter((t) => t !== 'trade_custom_data'))
      assert.ok(held[table] > 0, `the old epoch has ${table} rows`);
    const result = await sync('reset-bot', { acceptReset: 'archive' });
    // The bot's other tables end the epoch with its trades: archived as they were, the new file's rows live.
    const fresh = new Database(botDbPath(dir.path, 'reset-bot'), { readonly: true });
    const rowsOf = (table: string): number =>
      (fresh.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
    const sources = {
      pairlocks: 'pairlocks',
      trade_custom_data: 'trade_custom_data',
      wallet_history: 'wallet_history',
      key_value_store: 'KeyValueStore',
    };
    for (const table of others) {
      assert.equal(await count(`${table}_archive`, 'reset-bot'), held[table], `${table} archived`);
      assert.equal(await count(table, 'reset-bot'), rowsOf(sources[table]), `${table} of the new file`);
    }
    fresh.close();
    assert.deepEqual(result.reset, { kept: 'archive', epoch: 1, trades: 300, orders: 300 });
    assert.equal(result.trades.inserted, 10);
    assert.equal(result.trades.deleted, 0, 'archived, not deleted');
    assert.equal(await count('trades_aggregated', 'reset-bot'), 10);
    assert.equal(await count('trades_archive', 'reset-bot'), 300);
    assert.equal(await count('orders_archive', 'reset-bot'), 300);
    const archived = await env.db.pool.query(
      `SELECT a.epoch, count(*)::int AS n, min(a.trade_id) AS first, max(a.trade_id) AS last, count(a.profit_ratio)::int AS ratios
       FROM trades_archive a JOIN bots b ON b.id = a.bot_id WHERE b.instance_id = 'reset-bot' GROUP BY a.epoch`,
    );
    assert.equal(archived.rows.length, 1);
    assert.deepEqual(
      {
        epoch: archived.rows[0].epoch,
        n: archived.rows[0].n,
        first: archived.rows[0].first,
        last: archived.rows[0].last,
      },
      { epoch: 1, n: 300, first: 1, last: 300 },
    );
    assert.ok(archived.rows[0].ratios > 0, 'generated columns are archived as values');
    const epochs = await env.db.pool.query(
      `SELECT e.epoch, e.kept, e.trades, e.findings, b.epoch AS current FROM bot_epochs e JOIN bots b ON b.id = e.bot_id WHERE b.instance_id = 'reset-bot'`,
    );
    assert.equal(epochs.rows.length, 1);
    assert.deepEqual(
      [epochs.rows[0].epoch, epochs.rows[0].kept, epochs.rows[0].trades, epochs.rows[0].current],
      [1, 'archive', 300, 2],
    );
    assert.match(epochs.rows[0].findings, /290 of 300 trades/);
    // The new epoch syncs as usual from now on.
    const db = new Database(botDbPath(dir.path, 'reset-bot'));
    db.prepare("UPDATE trades SET exit_reason = 'after-reset' WHERE id = 3").run();
    db.close();
    const next = await sync('reset-bot');
    assert.equal(next.trades.updated, 1);
    assert.equal(next.reset, undefined);
  });

  it('deletes the old rows when the reset is accepted with delete', async () => {
    await replacedBot('delete-bot', 100, { trades: 4, seed: 5 });
    await refusal('delete-bot');
    const result = await sync('delete-bot', { acceptReset: 'delete' });
    assert.deepEqual(result.reset, { kept: 'delete', epoch: 1, trades: 100, orders: 100 });
    assert.equal(result.trades.deleted, 100);
    assert.equal(await count('trades_aggregated', 'delete-bot'), 4);
    assert.equal(await count('trades_archive', 'delete-bot'), 0);
    assert.equal(await count('wallet_history_archive', 'delete-bot'), 0);
    assert.equal(await count('key_value_store_archive', 'delete-bot'), 0);
  });

  it("refuses a file whose first trades are another bot's history (a dry-run file swapped in), even with nothing deleted", async () => {
    await replacedBot('swapped', 20, { trades: 40, seed: 77 });
    const error = await refusal('swapped');
    assert.match(error.message, /the bot's first trades changed: trade 1 was \S+ opened [\d-]+ [\d:]+, is now /);
    assert.equal(await count('trades_aggregated', 'swapped'), 20);
  });

  it('refuses an old copy restored in place of the file when it would delete trades, and lets a plain move pass', async () => {
    const file = botDbPath(dir.path, 'restored');
    createFreqtradeDb(file, { trades: 50, ordersPerTrade: 1, seed: 5 });
    const old = `${file}.bak`;
    copyFileSync(file, old);
    await sync('restored');
    const db = new Database(file);
    insertTrades(db, 51, 5, 1, 5);
    db.close();
    assert.equal((await sync('restored')).trades.inserted, 5);
    // A copy of the same file (new inode, nothing lost): synced as usual.
    const moved = `${file}.moved`;
    copyFileSync(file, moved);
    renameSync(moved, file);
    assert.equal((await sync('restored', { full: true })).trades.deleted, 0);
    // Yesterday's copy back: 5 of 55 trades (9%) would go, under the ratio, but it is another file.
    renameSync(old, file);
    const error = await refusal('restored');
    assert.match(error.message, /another file than at the last run/);
    assert.match(error.message, /5 of 55 trades \(9\.1%\) would be deleted(?!, above)/);
    assert.equal(await count('trades_aggregated', 'restored'), 55);
  });

  it('lets the deletions FreqTrade makes itself through, under DELETE_GUARD_RATIO', async () => {
    const file = botDbPath(dir.path, 'pruned');
    createFreqtradeDb(file, { trades: 50, ordersPerTrade: 1, seed: 5 });
    await sync('pruned');
    const db = new Database(file);
    db.prepare('DELETE FROM orders WHERE ft_trade_id BETWEEN 10 AND 19').run();
    db.prepare('DELETE FROM trades WHERE id BETWEEN 10 AND 19').run();
    db.close();
    const result = await sync('pruned', { full: true });
    assert.equal(result.trades.deleted, 10);
    assert.equal(await count('trades_aggregated', 'pruned'), 40);
  });

  it('--dry-run shows per table what would be inserted, updated and deleted, with sample keys, and writes nothing', async () => {
    const file = botDbPath(dir.path, 'dry');
    createFreqtradeDb(file, { trades: 30, ordersPerTrade: 1, seed: 5 });
    await sync('dry');
    const db = new Database(file);
    db.prepare("UPDATE trades SET exit_reason = 'changed' WHERE id IN (4, 9)").run();
    db.prepare('DELETE FROM orders WHERE ft_trade_id = 2').run();
    db.prepare('DELETE FROM trades WHERE id = 2').run();
    insertTrades(db, 31, 3, 1, 5);
    db.close();
    const snapshot = async () =>
      (
        await env.db.pool.query(
          `SELECT (SELECT count(*) FROM trades_aggregated)::int AS trades, (SELECT count(*) FROM orders)::int AS orders,
             (SELECT count(*) FROM bots)::int AS bots, (SELECT count(*) FROM rejects)::int AS rejects,
             (SELECT string_agg(row_hash, ',' ORDER BY trade_id) FROM trades_aggregated) AS hashes,
             (SELECT string_agg(coalesce(last_success_at::text, '') || coalesce(last_error, ''), ',' ORDER BY bot_id) FROM bot_sync_state) AS states`,
        )
      ).rows[0];
    const before = await snapshot();
    const plan = await dryRunBot(recordingContext(env.runtime), 'dry');
    assert.deepEqual(
      [plan.trades.inserted, plan.trades.updated, plan.trades.deleted, plan.trades.unchanged],
      [{ count: 3, sample: [31, 32, 33] }, { count: 2, sample: [4, 9] }, { count: 1, sample: [2] }, 27],
    );
    assert.equal(plan.orders.inserted.count, 3);
    assert.equal(plan.orders.deleted.count, 1);
    assert.equal(plan.reset.suspected, false);
    assert.deepEqual(await snapshot(), before, 'nothing written');

    // An unknown bot: all inserts, and not even the bot is registered.
    createFreqtradeDb(botDbPath(dir.path, 'dry-new'), { trades: 7, ordersPerTrade: 1, seed: 5 });
    const fresh = await dryRunBot(recordingContext(env.runtime), 'dry-new');
    assert.deepEqual(fresh.trades.inserted, { count: 7, sample: [1, 2, 3, 4, 5] });
    assert.deepEqual(await snapshot(), before, 'nothing written for a new bot either');

    // A replaced file: the dry run says a sync would be refused, and why.
    await replacedBot('dry-reset', 40, { trades: 5, seed: 5 });
    const replaced = await dryRunBot(recordingContext(env.runtime), 'dry-reset');
    assert.equal(replaced.reset.suspected, true);
    assert.equal(replaced.trades.deleted.count, 35);
    assert.deepEqual(replaced.trades.deleted.sample, [6, 7, 8, 9, 10]);
    assert.ok(replaced.reset.findings.some((f) => /35 of 40 trades/.test(f)));
  });

  it('reads --accept-reset and --dry-run from the command line; --accept-reset never with --all', async () => {
    const cliPayloads = (options: CliJobOptions) =>
      botSyncContract.fromCli!(options, { config: env.config, pg: env.runtime.pg });
    assert.deepEqual(await cliPayloads({ bot: 'x', acceptReset: true }), [
      { bot: 'x', dryRun: false, acceptReset: 'archive' },
    ]);
    assert.deepEqual(await cliPayloads({ bot: 'x', acceptReset: 'delete' }), [
      { bot: 'x', dryRun: false, acceptReset: 'delete' },
    ]);
    await assert.rejects(
      cliPayloads({ bot: 'x', acceptReset: 'keep' }),
      /--accept-reset=keep: expected archive or delete/,
    );
    await assert.rejects(cliPayloads({ all: true, acceptReset: true }), /--accept-reset needs --bot/);

    const cli = cliEnv(env.config, { BOT_INSTANCES_DIR: dir.path, LOG_LEVEL: 'warn' });
    const run = await runCli(['run', 'bot-sync', '--bot', 'dry', '--dry-run'], cli);
    assert.equal(run.code, 0, run.output);
    const line = run.output.split('\n').find((l) => l.startsWith('{"job"'));
    const printed = JSON.parse(line ?? '{}') as { result: BotSyncDryRun };
    assert.equal(printed.result.dryRun, true);
    assert.deepEqual(printed.result.trades.updated.sample, [4, 9]);
  });

  describe('through the queue', () => {
    let harness: QueueHarness;
    let events: QueueEvents;

    before(async () => {
      harness = await startQueueHarness(env.runtime, 'bot-sync');
      events = harness.events;
    });

    after(async () => {
      await harness.stop();
    });

    it('fails the replaced bot once, with the reason on the job, while another bot completes', async () => {
      await replacedBot('queued-reset', 60, { trades: 3, seed: 5 });
      createFreqtradeDb(botDbPath(dir.path, 'queued-good'), { trades: 8, ordersPerTrade: 1, seed: 5 });
      const bad = await enqueue(harness.queues, 'bot-sync', { bot: 'queued-reset' });
      const good = await enqueue(harness.queues, 'bot-sync', { bot: 'queued-good' });
      await assert.rejects(bad.waitUntilFinished(events, 20_000), /bot queued-reset: .* looks replaced/);
      const result = (await good.waitUntilFinished(events, 20_000)) as { trades: { inserted: number } };
      assert.equal(result.trades.inserted, 8);
      const failed = await harness.queues.get('bot-sync')!.getJob(bad.id!);
      assert.equal(failed?.attemptsMade, 1, 'no retry');
      assert.match(failed?.failedReason ?? '', /57 of 60 trades .* --accept-reset=archive/);
      assert.equal(await count('trades_aggregated', 'queued-reset'), 60);
    });
  });
});
