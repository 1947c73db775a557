import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { createRedis } from '../../src/connections/redis.js';
import { createQueues } from '../../src/queues/queues.js';
import { verifyBots } from '../../src/verify/verify-bots.js';
import { compareBots } from '../helpers/bot-equality.js';
import { cliEnv } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { PrivateRedisCluster } from '../helpers/private-redis-cluster.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';
import { WorkerFleet } from '../helpers/worker-fleet.js';
import { reliability } from './reliability-report.js';
import { faultWorkerSettings } from './worker-settings.js';

const BOTS = 12;
const TRADES = Number(process.env.FAULT_TRADES ?? '10000');
const bots = Array.from({ length: BOTS }, (_, i) => `cbot-${String(i).padStart(2, '0')}`);

describe('Redis Cluster failover: the primary holding the queues dies mid-run', { timeout: 10 * 60_000 }, () => {
  const tracker = failureTracker();
  const cluster = new PrivateRedisCluster();
  const dir = tempDir('faults-cluster');
  let env: TestEnvironment;

  before(async () => {
    await cluster.start(1000);
    env = await createTestEnvironment('faults_cluster', {
      REDIS_CLUSTER_NODES: cluster.seeds,
      BOT_INSTANCES_DIR: dir.path,
      ...faultWorkerSettings,
      LOG_LEVEL: 'silent',
    });
    bots.forEach((bot, i) => createFreqtradeDb(botDbPath(dir.path, bot), { trades: TRADES, seed: 300 + i }));
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await cluster.remove();
    if (!tracker.failed) dir.remove();
  });

  it("kill -9 of the queues' primary: its replica takes over, every job completes once, PostgreSQL equals the sources", async () => {
    const connection = createRedis(env.config, 'worker');
    const queue: Queue = createQueues(env.config, connection, ['bot-sync']).get('bot-sync')!;
    const fleet = new WorkerFleet(
      ['--queues', 'bot-sync', '--concurrency', '2'],
      cliEnv(env.config, { BOT_INSTANCES_DIR: dir.path, ...faultWorkerSettings }),
    );
    try {
      await fleet.start(2);
      const jobs = await Promise.all(bots.map((bot) => queue.add(`bot-sync ${bot} failover`, { bot, full: true })));
      const active = await waitFor('bot-sync jobs running', async () => {
        const running = await queue.getActive();
        return running.length >= 2 && running;
      });
      const slot = Number(await (connection as Cluster).cluster('KEYSLOT', env.config.QUEUE_PREFIX));
      const victim = await cluster.primaryOf(slot);
      assert.ok(victim, `a primary serves slot ${slot}`);
      await cluster.kill(victim);
      const killedAt = Date.now();
      const successor = await waitFor(
        'a replica to take over the slot',
        async () => {
          const port = await cluster.primaryOf(slot).catch(() => undefined);
          return port !== undefined && port !== victim && port;
        },
        60_000,
        100,
      );
      const failoverMs = Date.now() - killedAt;

      const counts = await waitFor(
        'every job to complete',
        async () => {
          const c = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed').catch(() => undefined);
          return c && (c.completed ?? 0) + (c.failed ?? 0) === bots.length && c;
        },
        300_000,
        250,
      );
      const recoveryMs = Date.now() - killedAt;
      assert.deepEqual({ completed: counts.completed, failed: counts.failed }, { completed: bots.length, failed: 0 });

      // The kill hit running jobs: those active before it finished only after it.
      const hit = await Promise.all(active.map((job) => queue.getJob(job.id!)));
      for (const job of hit) {
        assert.ok(job?.finishedOn && job.finishedOn > killedAt, `job ${job?.id} was running when the primary died`);
      }
      // Nothing lost, nothing run as a second job: one completed job per bot, the ones enqueued.
      const completed = await queue.getCompleted(0, -1);
      assert.deepEqual(completed.map((j) => j.id).sort(), jobs.map((j) => j.id).sort());

      const equality = await compareBots(env.db.pool, dir.path, bots);
      const checks = await verifyBots(env.config, env.db.pool, bots);
      reliability({
        fault: `kill -9 of the Redis Cluster primary holding the queues (replica promoted in ${(failoverMs / 1000).toFixed(1)} s, ${hit.length} jobs running)`,
        runs: bots.length,
        rowsLost: equality.lost,
        rowsDuplicated: equality.duplicated,
        recoveryMs,
        sourceRows: equality.sourceRows,
      });
      assert.notEqual(successor, victim);
      assert.equal(equality.lost, 0, 'no row lost');
      assert.equal(equality.duplicated, 0, 'no row duplicated');
      assert.deepEqual(
        checks.filter((c) => !c.ok),
        [],
        'every bot equal in counts and checksums',
      );
    } finally {
      await fleet.stop();
      await queue.close();
      connection.disconnect();
    }
  });
});
