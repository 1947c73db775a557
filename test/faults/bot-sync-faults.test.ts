import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueueEvents, type Job, type Queue } from 'bullmq';
import { createQueues } from '../../src/queues/queues.js';
import Database from 'better-sqlite3';
import type { Config } from '../../src/config.js';
import { createRedis } from '../../src/connections/redis.js';
import { parseDuration } from '../../src/duration.js';
import { verifyBots } from '../../src/verify/verify-bots.js';
import { compareBots } from '../helpers/bot-equality.js';
import { cliEnv, startCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb, insertTrades } from '../../scripts/freqtrade/fixtures.js';
import { random } from '../../scripts/freqtrade/trade-plan.js';
import { PrivateRedis } from '../../scripts/private-redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';
import { WorkerFleet } from '../helpers/worker-fleet.js';
import { reliability } from './reliability-report.js';
import { faultWorkerSettings } from './worker-settings.js';

const BOTS = 20;
const TRADES = Number(process.env.FAULT_TRADES ?? '10000');
const bots = Array.from({ length: BOTS }, (_, i) => `bot-${String(i).padStart(2, '0')}`);

const workerSettings = faultWorkerSettings;

/** The bot-sync queue and its events, each on a connection of its own that `close` disconnects (BullMQ does not close a connection it was given, and the process would never exit). */
async function openBotSyncQueue(
  config: Config,
): Promise<{ queue: Queue; events: QueueEvents; close: () => Promise<void> }> {
  const connection = createRedis(config, 'worker');
  const eventsConnection = createRedis(config, 'worker');
  const queue = createQueues(config, connection, ['bot-sync']).get('bot-sync')!;
  const events = new QueueEvents('bot-sync', { connection: eventsConnection, prefix: config.QUEUE_PREFIX });
  await events.waitUntilReady();
  return {
    queue,
    events,
    async close() {
      await events.close();
      await queue.close();
      connection.disconnect();
      eventsConnection.disconnect();
    },
  };
}

describe('faults during bot-sync: kill -9, Redis restart, PostgreSQL outage', { timeout: 20 * 60_000 }, () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('faults');
  const nextId = new Map<string, number>();
  const rnd = random(2026);

  before(async () => {
    // Producers set attempts and backoff on each job: the same settings as the workers.
    env = await createTestEnvironment('faults_bot_sync', {
      BOT_INSTANCES_DIR: dir.path,
      ...workerSettings,
      LOG_LEVEL: 'silent',
    });
    bots.forEach((bot, i) => {
      createFreqtradeDb(botDbPath(dir.path, bot), { trades: TRADES, ordersPerTrade: 2, seed: 100 + i });
      nextId.set(bot, TRADES + 1);
    });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  /** What FreqTrade does between syncs: updates 1% of trades, deletes some, opens new ones. */
  function mutateSources(): void {
    for (const bot of bots) {
      const db = new Database(botDbPath(dir.path, bot));
      db.prepare('UPDATE trades SET close_profit_abs = coalesce(close_profit_abs, 0) + 1 WHERE id % 100 = ?').run(
        Math.floor(rnd() * 100),
      );
      const gone = db.prepare('SELECT id FROM trades ORDER BY random() LIMIT 5').all() as Array<{ id: number }>;
      for (const { id } of gone) {
        db.prepare('DELETE FROM orders WHERE ft_trade_id = ?').run(id);
        db.prepare('DELETE FROM trades WHERE id = ?').run(id);
      }
      const first = nextId.get(bot)!;
      insertTrades(db, first, 10, 2, 7);
      nextId.set(bot, first + 10);
      db.close();
    }
  }

  /** Makes every job heavy: PostgreSQL loses this bot's rows, so the next sync rewrites them all. */
  async function wipe(subset: readonly string[]): Promise<void> {
    await env.db.pool.query(
      'DELETE FROM trades_aggregated WHERE bot_id IN (SELECT id FROM bots WHERE instance_id = ANY($1))',
      [subset],
    );
  }

  async function enqueueAll(queue: Queue, label: string): Promise<Job[]> {
    return Promise.all(bots.map((bot) => queue.add(`bot-sync ${bot} ${label}`, { bot, full: true })));
  }

  async function settle(jobs: Job[], events: QueueEvents, timeoutMs: number): Promise<void> {
    await Promise.all(jobs.map((job) => job.waitUntilFinished(events, timeoutMs)));
  }

  /** Waits until some of `jobs` are running and some not finished yet: the moment to strike. */
  async function midRun(queue: Queue, jobs: Job[]): Promise<void> {
    await waitFor(
      'jobs running in the middle of the run',
      async () => {
        const states = await Promise.all(jobs.map((job) => queue.getJobState(job.id!)));
        return states.includes('active') && states.some((state) => state !== 'completed');
      },
      120_000,
    );
  }

  /** Stalls and retries the jobs went through: proof that a fault hit them while they ran. */
  async function interruptions(queue: Queue, jobs: Job[]): Promise<number> {
    const finished = await Promise.all(jobs.map((job) => queue.getJob(job.id!)));
    return finished.reduce((n, job) => n + (job?.stalledCounter ?? 0) + Math.max(0, (job?.attemptsMade ?? 1) - 1), 0);
  }

  async function assertExact(fault: string, runs: number, recoveryMs: number): Promise<void> {
    const equality = await compareBots(env.db.pool, dir.path, bots);
    const checks = await verifyBots(env.config, env.db.pool, bots);
    reliability({
      fault,
      runs,
      rowsLost: equality.lost,
      rowsDuplicated: equality.duplicated,
      recoveryMs,
      sourceRows: equality.sourceRows,
    });
    assert.equal(equality.lost, 0, 'no row lost');
    assert.equal(equality.duplicated, 0, 'no row duplicated');
    assert.deepEqual(
      checks.filter((c) => !c.ok),
      [],
      'every bot equal in counts and checksums',
    );
  }

  it('kill -9 of workers at random moments: every job completes and PostgreSQL equals the sources', async () => {
    const { queue, events, close } = await openBotSyncQueue(env.config);
    const fleet = new WorkerFleet(
      ['--queues', 'bot-sync', '--concurrency', '2'],
      cliEnv(env.config, { BOT_INSTANCES_DIR: dir.path, ...workerSettings }),
    );
    await fleet.start(3);
    let killing = true;
    const killer = (async () => {
      while (killing) {
        await new Promise((resolve) => setTimeout(resolve, 300 + rnd() * 1200));
        if (killing) await fleet.killOneAndReplace(rnd);
      }
    })();
    let runs = 0;
    let lastKill: number;
    try {
      for (let round = 0; round < 3 || fleet.kills < 20; round++) {
        if (round > 0) mutateSources();
        await wipe(bots.filter((_, i) => (i + round) % 2 === 0));
        const jobs = await enqueueAll(queue, `round ${round}`);
        runs += jobs.length;
        await settle(jobs, events, 300_000);
        if (round > 12) break;
      }
      killing = false;
      await killer;
      lastKill = Date.now();
      assert.ok(fleet.kills >= 20, `${fleet.kills} kills`);
      const failed = await queue.getJobCountByTypes('failed');
      assert.equal(failed, 0, 'no job failed for good');
    } finally {
      killing = false;
      await killer.catch(() => undefined);
      await fleet.stop();
      await close();
    }
    await assertExact(`kill -9 of a worker (${fleet.kills} kills)`, runs, Date.now() - lastKill);
  });

  it('a Redis restart in the middle of a run: every job completes', async () => {
    const redis = new PrivateRedis();
    await redis.start();
    const config = { ...env.config, REDIS_URL: redis.url };
    const { queue, events, close } = await openBotSyncQueue(config);
    const fleet = new WorkerFleet(
      ['--queues', 'bot-sync', '--concurrency', '2'],
      cliEnv(config, { BOT_INSTANCES_DIR: dir.path, ...workerSettings }),
    );
    try {
      await fleet.start(2);
      mutateSources();
      await wipe(bots);
      const jobs = await enqueueAll(queue, 'redis restart');
      await midRun(queue, jobs);
      // Down for longer than a job's lock: every running job loses it and must stall or retry.
      const downMs = parseDuration(workerSettings.JOB_LOCK_DURATION)! + 1000;
      await redis.restart(downMs);
      const restarted = Date.now();
      await settle(jobs, events, 300_000);
      const recoveryMs = Date.now() - restarted;
      assert.equal(await queue.getJobCountByTypes('failed'), 0);
      assert.ok((await interruptions(queue, jobs)) > 0, 'the restart hit running jobs: a stall or a retry');
      await assertExact(`Redis restart (AOF, ${downMs / 1000} s down)`, jobs.length, recoveryMs);
    } finally {
      await fleet.stop();
      await close();
      await redis.remove();
    }
  });

  it('PostgreSQL unreachable for 30 s in the middle of a run: jobs retry with backoff and complete', async () => {
    const url = new URL(env.config.DATABASE_URL);
    const proxy = await TcpProxy.reserve({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    url.port = String(proxy.port);
    const { queue, events, close } = await openBotSyncQueue(env.config);
    const fleet = new WorkerFleet(
      ['--queues', 'bot-sync', '--concurrency', '2'],
      cliEnv({ ...env.config, DATABASE_URL: url.toString() }, { BOT_INSTANCES_DIR: dir.path, ...workerSettings }),
    );
    try {
      await fleet.start(2);
      mutateSources();
      await wipe(bots);
      const jobs = await enqueueAll(queue, 'pg outage');
      await midRun(queue, jobs);
      await proxy.stop();
      await new Promise((resolve) => setTimeout(resolve, 30_000)); // the outage itself
      await proxy.start();
      const restored = Date.now();
      await settle(jobs, events, 300_000);
      const recoveryMs = Date.now() - restored;
      assert.equal(await queue.getJobCountByTypes('failed'), 0);
      assert.ok((await interruptions(queue, jobs)) > 0, 'the outage hit running jobs: a retry');
      await assertExact('PostgreSQL unreachable for 30 s', jobs.length, recoveryMs);
    } finally {
      await fleet.stop();
      await close();
      await proxy.stop();
    }
  });

  it('two schedulers and two workers together: one schedule per bot, every bot synced exactly', async () => {
    const env2 = cliEnv(env.config, {
      BOT_INSTANCES_DIR: dir.path,
      ...workerSettings,
      SYNC_INTERVAL: '3s',
      DISCOVERY_INTERVAL: '1s',
    });
    const schedulers = [startCli(['scheduler'], env2), startCli(['scheduler'], env2)];
    const fleet = new WorkerFleet(['--queues', 'bot-sync', '--concurrency', '2'], env2);
    const { queue, close } = await openBotSyncQueue(env.config);
    try {
      await Promise.all(schedulers.map((s) => s.waitForOutput(/scheduler started/, 60_000)));
      await fleet.start(2);
      const started = Date.now();
      mutateSources();
      const mutated = new Date();
      // Each bot synced by a run that began after the change: last_success_at is the start of
      // the sync's transaction, which looks at the file only after it began.
      await waitFor(
        'a scheduled sync of every bot begun after the change',
        async () => {
          const synced = await env.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id
             WHERE b.instance_id = ANY($1) AND s.last_success_at > $2`,
            [bots, mutated],
          );
          return synced.rows[0]!.n === BOTS;
        },
        240_000,
        500,
      );
      const schedules = await queue.getJobSchedulers(0, -1, true);
      assert.deepEqual(
        schedules.map((s) => s.key).sort(),
        bots.map((b) => `bot-sync:${b}`),
      );
      await Promise.all(
        schedulers.map(async (s) => {
          s.child.kill('SIGTERM');
          await s.exited;
        }),
      );
      await fleet.stop();
      const completed = await queue.getJobCountByTypes('completed');
      assert.ok(completed >= BOTS, `${completed} scheduled runs completed`);
      await assertExact('two schedulers + two workers', completed, Date.now() - started);
    } finally {
      for (const s of schedulers) s.child.kill('SIGKILL');
      await fleet.stop();
      await close();
    }
  });
});
