import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { tempDir } from '../helpers/temp-dir.js';

/** One foreign-key check's plan as auto_explain logs it (JSON format): the scan under LockRows. */
interface CheckScan {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
}

/**
 * A long-running worker keeps its PostgreSQL connections, and with them the plan of the orders'
 * foreign-key check. One that synced a small bot first must check a big bot's orders as a fresh
 * process does: each order's trade found by its key (bot_id, trade_id), not by walking the
 * bot's trades (a 60,000-trade bot's first sync took minutes instead of seconds).
 */
describe('bot-sync in a warm worker: a big bot after a small one', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('bot-sync-warm-worker');
  const bots = () => path.join(dir.path, 'bots');

  before(async () => {
    // One connection, as a worker's pool reuses: both syncs run on the same PostgreSQL backend.
    env = await createTestEnvironment('bot_sync_warm', { BOT_INSTANCES_DIR: bots(), PG_POOL_MAX: '1' });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('checks every order of the big bot by its trade key, on the connection that synced the small bot', async () => {
    createBotDatabase(botDbPath(bots(), 'small-bot'), { trades: 200, seed: 11, wal: false });
    const big = createBotDatabase(botDbPath(bots(), 'big-bot'), { trades: 4000, seed: 12, wal: false });

    // auto_explain on the pool's one connection logs every statement's plan, the foreign key's
    // checks (nested statements) included, as notices this test reads.
    const checks: CheckScan[] = [];
    let watching = false;
    const client = await env.runtime.pg.connect();
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await client.query(`LOAD 'auto_explain'`);
    await client.query(
      `SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
       SET auto_explain.log_level = notice; SET auto_explain.log_format = json`,
    );
    client.on('notice', (notice) => {
      const text = notice.message ?? '';
      if (!watching || !text.includes('FOR KEY SHARE OF x')) return;
      const logged = JSON.parse(text.slice(text.indexOf('{'))) as {
        'Query Text': string;
        Plan: { Plans?: CheckScan[] };
      };
      // The orders' check of their trade (the trades' own check of their bot is another).
      if (logged['Query Text'].includes('trades_aggregated')) checks.push(logged.Plan.Plans![0]!);
    });
    client.release();

    await syncBot(recordingContext(env.runtime), 'small-bot');
    watching = true;
    const synced = await syncBot(recordingContext(env.runtime), 'big-bot');
    watching = false;

    assert.equal(synced.trades.inserted, big.trades);
    assert.equal(synced.orders.inserted, big.orders);
    const again = await env.runtime.pg.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    assert.equal(again.rows[0]!.pid, backend, 'both syncs ran on one PostgreSQL backend');
    assert.equal(checks.length, big.orders, 'one foreign-key check per order written');
    const byBotAlone = checks.filter((scan) => !(scan['Index Cond'] ?? '').includes('trade_id'));
    assert.deepEqual(
      byBotAlone.slice(0, 1),
      [],
      `${byBotAlone.length} of ${checks.length} orders' checks look their trade up without its trade_id`,
    );
    assert.equal(checks[0]!['Index Name'], 'trades_aggregated_bot_id_trade_id_key');
  });
});
