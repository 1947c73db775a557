import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '../../src/connections/redis.js';
import { scheduleSources } from '../../src/producers/scheduler/schedule-sources.js';
import { Scheduler } from '../../src/producers/scheduler/scheduler.js';
import { closeQueues, createQueues } from '../../src/queues/queues.js';
import { WorkerPool } from '../../src/workers/worker-pool.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';

describe('scheduler: bot discovery and one schedule per bot, whatever the number of schedulers', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('scheduler');
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    env = await createTestEnvironment('scheduler', {
      BOT_INSTANCES_DIR: dir.path,
      SYNC_INTERVAL: '1s',
      DISCOVERY_INTERVAL: '200ms',
    });
    createFreqtradeDb(botDbPath(dir.path, 'bot-a'), { trades: 20 });
    createFreqtradeDb(botDbPath(dir.path, 'bot-b'), { trades: 30 });
    mkdirSync(path.join(dir.path, 'not a bot!', 'user_data'), { recursive: true });
    mkdirSync(path.join(dir.path, 'empty-folder'), { recursive: true });
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  /** A scheduler as a separate process would have it: its own Redis connection and queues. */
  function newScheduler(leaseRenewMs = 10_000, config = env.config): Scheduler {
    const redis = createRedis(config, 'worker');
    const queues = createQueues(config, redis, ['bot-sync', 'turso-push', 'user-reconcile']);
    const sources = scheduleSources(config, env.runtime.logger);
    const scheduler = new Scheduler({
      config,
      pg: env.runtime.pg,
      redis,
      queues,
      logger: env.runtime.logger,
      onQueueError: env.runtime.errors.listener('queue'),
      leaseRenewMs,
      sources,
    });
    cleanups.push(async () => {
      await scheduler.stop();
      await closeQueues(queues);
      redis.disconnect();
    });
    return scheduler;
  }

  async function schedules(
    queue: 'bot-sync' | 'turso-push' | 'user-reconcile' = 'bot-sync',
  ): Promise<Array<{ key: string; every: number | undefined; data: unknown }>> {
    const queues = createQueues(env.config, env.runtime.redis('worker'), [queue]);
    try {
      const list = await queues.get(queue)!.getJobSchedulers(0, -1, true);
      return list
        .map((s) => ({ key: s.key, every: s.every, data: s.template?.data }))
        .sort((a, b) => a.key.localeCompare(b.key));
    } finally {
      await closeQueues(queues);
    }
  }

  it('registers discovered bots and schedules each once; a second pass and a second scheduler change nothing', async () => {
    const first = newScheduler();
    const second = newScheduler();
    const [a, b] = await Promise.all([first.runOnce(), second.runOnce()]);
    assert.deepEqual([a.leader, b.leader].sort(), [false, true], 'exactly one scheduler leads');
    const leader = a.leader ? first : second;
    assert.deepEqual(await schedules(), [
      { key: 'bot-sync:bot-a', every: 1000, data: { bot: 'bot-a' } },
      { key: 'bot-sync:bot-b', every: 1000, data: { bot: 'bot-b' } },
    ]);
    const again = await leader.runOnce();
    assert.deepEqual(again.schedules, { created: 0, updated: 0, removed: 0, kept: 2 });
    const bots = await env.db.pool.query('SELECT instance_id FROM bots ORDER BY instance_id');
    assert.deepEqual(
      bots.rows.map((r: { instance_id: string }) => r.instance_id),
      ['bot-a', 'bot-b'],
    );
    await first.stop();
    await second.stop();
  });

  it('schedules a new bot, and unschedules and marks a bot whose database is gone', async () => {
    const scheduler = newScheduler();
    assert.equal((await scheduler.runOnce()).leader, true, 'a stopped leader hands the lock back at once');
    createFreqtradeDb(botDbPath(dir.path, 'bot-c'), { trades: 20 });
    rmSync(path.join(dir.path, 'bot-a'), { recursive: true });
    const pass = await scheduler.runOnce();
    assert.deepEqual(pass.schedules, { created: 1, updated: 0, removed: 1, kept: 1 });
    assert.deepEqual(pass.missing, ['bot-a']);
    assert.deepEqual(
      (await schedules()).map((s) => s.key),
      ['bot-sync:bot-b', 'bot-sync:bot-c'],
    );
    const missing = await env.db.pool.query(`SELECT instance_id FROM bots WHERE missing_since IS NOT NULL`);
    assert.deepEqual(missing.rows, [{ instance_id: 'bot-a' }]);
    createFreqtradeDb(botDbPath(dir.path, 'bot-a'), { trades: 20 });
    const back = await scheduler.runOnce();
    assert.deepEqual(back.schedules?.created, 1);
    const none = await env.db.pool.query(`SELECT count(*)::int AS n FROM bots WHERE missing_since IS NOT NULL`);
    assert.equal(none.rows[0].n, 0, 'a bot that comes back is no longer missing');
    await scheduler.stop();
  });

  it('schedules Turso pushes only for bots whose sync-config.json enables them', async () => {
    const scheduler = newScheduler();
    const syncConfig = (bot: string, enabled: boolean | string): void =>
      writeFileSync(
        path.join(dir.path, bot, 'sync-config.json'),
        JSON.stringify({ tursoUrl: `file:${path.join(dir.path, `${bot}.db`)}`, tursoToken: 'secret', enabled }),
      );
    syncConfig('bot-a', true);
    syncConfig('bot-b', false);
    await scheduler.runOnce();
    assert.deepEqual(await schedules('turso-push'), [
      { key: 'turso-push:bot-a', every: env.config.TURSO_PUSH_INTERVAL, data: { bot: 'bot-a' } },
    ]);
    syncConfig('bot-a', 'yes please');
    syncConfig('bot-b', true);
    const pass = await scheduler.runOnce();
    assert.deepEqual(
      (await schedules('turso-push')).map((s) => s.key),
      ['turso-push:bot-b'],
      'a bad config unschedules its bot',
    );
    assert.equal(pass.schedules?.removed, 1);
    assert.doesNotMatch(JSON.stringify(await schedules('turso-push')), /secret/, 'no token in job data');
    rmSync(path.join(dir.path, 'bot-a', 'sync-config.json'));
    rmSync(path.join(dir.path, 'bot-b', 'sync-config.json'));
    await scheduler.runOnce();
    assert.deepEqual(await schedules('turso-push'), []);
    await scheduler.stop();
  });

  it('schedules the users reconcile job only while USER_RECONCILE_INTERVAL is set', async () => {
    const on = newScheduler(10_000, { ...env.config, USER_RECONCILE_INTERVAL: 3_600_000 });
    await on.runOnce();
    assert.deepEqual(
      (await schedules('user-reconcile')).map((r) => [r.key, r.every]),
      [['user-reconcile', 3_600_000]],
    );
    await on.runOnce();
    assert.equal((await schedules('user-reconcile')).length, 1, 'still one schedule');
    await on.stop();
    const off = newScheduler();
    await off.runOnce();
    assert.deepEqual(await schedules('user-reconcile'), []);
    await off.stop();
  });

  it('fails over: when the leading scheduler stops, a standby takes over and keeps schedules exact', async () => {
    const one = newScheduler(100);
    const two = newScheduler(100);
    one.start();
    two.start();
    rmSync(path.join(dir.path, 'bot-c'), { recursive: true });
    await waitFor('bot-c to be unscheduled', async () =>
      (await schedules()).some((s) => s.key === 'bot-sync:bot-c') ? undefined : true,
    );
    await one.stop();
    createFreqtradeDb(botDbPath(dir.path, 'bot-d'), { trades: 4 });
    await waitFor('bot-d to be scheduled by whichever scheduler leads', async () =>
      (await schedules()).some((s) => s.key === 'bot-sync:bot-d') ? true : undefined,
    );
    await two.stop();
    assert.deepEqual(
      (await schedules()).map((s) => s.key),
      ['bot-sync:bot-a', 'bot-sync:bot-b', 'bot-sync:bot-d'],
    );
  });

  it('scheduled bot-sync jobs run on a worker and keep every bot synced', async () => {
    const pool = new WorkerPool(env.runtime, env.runtime.redis('worker'), { queues: ['bot-sync'], concurrency: 2 });
    pool.start();
    cleanups.push(() => pool.stop());
    await pool.ready();
    const synced = await waitFor(
      'every scheduled bot to be synced by a scheduled job',
      async () => {
        const { rows } = await env.db.pool.query(
          `SELECT b.instance_id, s.trades_count FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id
           WHERE s.last_success_at IS NOT NULL AND b.missing_since IS NULL ORDER BY b.instance_id`,
        );
        return rows.length === 3 ? rows : undefined;
      },
      20_000,
    );
    assert.deepEqual(synced, [
      { instance_id: 'bot-a', trades_count: 20 },
      { instance_id: 'bot-b', trades_count: 30 },
      { instance_id: 'bot-d', trades_count: 4 },
    ]);
  });
});
