import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { compareBots } from '../helpers/bot-equality.js';
import { cliEnv, listeningPort, runCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { onRedisCluster } from '../helpers/test-config.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

const bots = ['cl-a', 'cl-b', 'cl-c'];

/**
 * Every role on the test services' Redis Cluster (scripts/redis-cluster.sh): the scheduler and
 * its leader lock, a worker process, enqueue --wait, status, the board's /health and /metrics.
 */
describe('the pipeline on a Redis Cluster', { timeout: 5 * 60_000 }, () => {
  const tracker = failureTracker();
  const dir = tempDir('cluster');
  let env: TestEnvironment;
  let worker: CliProcess | undefined;

  before(async () => {
    env = await createTestEnvironment('redis_cluster', { ...onRedisCluster(), BOT_INSTANCES_DIR: dir.path });
    bots.forEach((bot, i) => createFreqtradeDb(botDbPath(dir.path, bot), { trades: 300, seed: 40 + i }));
    worker = startCli(['worker', '--queues', 'bot-sync'], cliEnv(env.config, { BOT_INSTANCES_DIR: dir.path }));
    await worker.waitForOutput(/workers ready/, 60_000);
  });

  after(async () => {
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('the scheduler leads and schedules every bot', async () => {
    const { code, output } = await runCli(
      ['scheduler', '--once'],
      cliEnv(env.config, { LOG_LEVEL: 'silent', BOT_INSTANCES_DIR: dir.path }),
    );
    assert.equal(code, 0, output);
    const pass = JSON.parse(output) as { leader: boolean; bots: number };
    assert.equal(pass.leader, true, output);
    assert.equal(pass.bots, bots.length, output);
  });

  it('syncs every bot through the worker (enqueue --all --wait), PostgreSQL equal to the sources', async () => {
    const { code, output } = await runCli(
      ['enqueue', 'bot-sync', '--all', '--wait'],
      cliEnv(env.config, { LOG_LEVEL: 'silent', BOT_INSTANCES_DIR: dir.path }),
    );
    assert.equal(code, 0, output);
    assert.equal(output.match(/completed/g)?.length, bots.length, output);
    const equality = await compareBots(env.db.pool, dir.path, bots);
    assert.ok(equality.sourceRows > 0);
    assert.deepEqual({ lost: equality.lost, duplicated: equality.duplicated }, { lost: 0, duplicated: 0 });
  });

  it('keeps each queue in the one slot of its hash tag, on the primary that owns it', async () => {
    const seeds = env.config.REDIS_CLUSTER_NODES!;
    const cluster = new Cluster(seeds.map(({ host, port }) => ({ host, port })));
    try {
      const slot = Number(await cluster.cluster('KEYSLOT', env.config.QUEUE_PREFIX));
      const keys: string[] = [];
      for (const node of cluster.nodes('master')) {
        const [, found] = await node.scan('0', 'MATCH', `${env.config.QUEUE_PREFIX}:bot-sync:*`, 'COUNT', 10_000);
        keys.push(...found);
      }
      assert.ok(keys.length > 0, 'the queue has keys on the cluster');
      for (const key of keys.slice(0, 20)) assert.equal(Number(await cluster.cluster('KEYSLOT', key)), slot, key);
    } finally {
      cluster.disconnect();
    }
  });

  it('status reads the queues from the cluster', async () => {
    const { code, output } = await runCli(
      ['status', '--json'],
      cliEnv(env.config, { LOG_LEVEL: 'silent', BOT_INSTANCES_DIR: dir.path }),
    );
    assert.equal(code, 0, output);
    const report = JSON.parse(output) as { queues: Array<{ queue: string; counts: { completed: number } }> };
    // The enqueued syncs, and any schedule of the scheduler's pass that came due since.
    const completed = report.queues.find((q) => q.queue === 'bot-sync')?.counts.completed ?? 0;
    assert.ok(completed >= bots.length, output);
  });

  it('the board answers /health and /metrics from the cluster', async () => {
    const board = startCli(['board', '--port', '0'], cliEnv(env.config));
    try {
      const port = await listeningPort(board, 'board listening');
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      const report = (await health.json()) as { dependencies: { redis?: { status: string } } };
      assert.equal(health.status, 200, JSON.stringify(report));
      assert.equal(report.dependencies.redis?.status, 'ok');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, /ctp_etl_queue_jobs\{queue="bot-sync",state="completed"\} [1-9]/);
      // Memory of each primary, each named by its own address (the cluster's 7100-7105 has three).
      const used = [...metrics.matchAll(/^ctp_etl_redis_memory_used_bytes\{node="([^"]+)"\} (\d+)$/gm)];
      assert.equal(used.length, 3, metrics);
      assert.equal(new Set(used.map((match) => match[1])).size, 3);
      assert.ok(
        used.every((match) => /:710[0-5]$/.test(match[1] ?? '') && Number(match[2]) > 100_000),
        metrics,
      );
      assert.equal([...metrics.matchAll(/^ctp_etl_redis_memory_max_bytes\{node=/gm)].length, 3);
      // The suite's worker serves bot-sync alone; its clients are on the queue's node of the cluster.
      assert.match(metrics, /^ctp_etl_queue_workers\{queue="bot-sync"\} 1$/m);
      assert.match(metrics, /^ctp_etl_queue_workers\{queue="echo"\} 0$/m);
    } finally {
      board.child.kill('SIGTERM');
      assert.equal((await board.exited).code, 0, board.output());
    }
  });
});
