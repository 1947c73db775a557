import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { Registry } from 'prom-client';
import { registerBoardMetrics } from '../../src/monitoring/board-metrics.js';
import { enqueue } from '../../src/producers/enqueue.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { seedBotSyncState } from '../helpers/bot-sync-state.js';
import { cliEnv, listeningPort, startCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { statementsOf } from '../helpers/pg-statements.js';
import { waitFor } from '../helpers/wait-for.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * The metrics text once `series` reads `value`. A worker observes a job on its own `completed`
 * event, which may come a moment after QueueEvents has told the test the job finished.
 */
async function metricsOnce(port: number, series: string, value: number): Promise<string> {
  let last = '';
  try {
    return await waitFor(
      `${series} = ${value}`,
      async () => {
        last = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return sample(last, series) === value ? last : undefined;
      },
      5_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the last /metrics read:\n${last}`, { cause: error });
  }
}

describe('/metrics', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let queues: Queues;
  let events: QueueEvents;

  before(async () => {
    env = await createTestEnvironment('metrics', { JOB_ATTEMPTS: '2' });
    queues = createQueues(env.config, env.runtime.redis('producer'), ['echo']);
    events = new QueueEvents('echo', { connection: env.runtime.redis('worker'), prefix: env.config.QUEUE_PREFIX });
    await events.waitUntilReady();
    await seedBotSyncState(env.db.pool, [
      { instance: 'bot-0007', syncedSecondsAgo: 90 },
      { instance: 'bot-0003', discoveredSecondsAgo: 600 },
      { instance: 'bot-0009', syncedSecondsAgo: 5, missing: true },
    ]);
  });

  after(async () => {
    await events.close();
    await closeQueues(queues);
    await env.cleanup({ keep: tracker.failed });
  });

  /** A registry with the board's metrics over this file's queues and database. */
  function boardRegistry(): Registry {
    const registry = new Registry();
    registerBoardMetrics(registry, {
      queues,
      pg: env.runtime.pg,
      redis: env.runtime.redis('producer'),
      logger: env.runtime.logger,
      config: env.config,
    });
    return registry;
  }

  it("one scrape reads the bots' lag once for its three lag gauges", async () => {
    const registry = boardRegistry();
    const scrape = await statementsOf(() => registry.metrics());
    assert.equal(
      scrape.statements.filter((text) => text.includes('LEFT JOIN bot_sync_state')).length,
      1,
      scrape.statements.join('\n'),
    );
    // Each of the three gauges has its values from that one read.
    assert.notEqual(sample(scrape.result, 'ctp_etl_bots_behind'), undefined, scrape.result);
    assert.notEqual(sample(scrape.result, 'ctp_etl_bot_sync_lag_quantile_seconds{quantile="0.5"}'), undefined);
    assert.notEqual(sample(scrape.result, 'ctp_etl_bot_sync_lag_seconds{instance="bot-0007"}'), undefined);
  });

  it("one scrape reads the queues' depths once for its two queue gauges", async () => {
    const registry = boardRegistry();
    // The real queue, its counting call seen on the way through (each read of the depths makes one per queue).
    const queue = queues.get('echo')!;
    const getJobCounts = queue.getJobCounts;
    let counted = 0;
    queue.getJobCounts = function (this: typeof queue, ...states) {
      counted += 1;
      return getJobCounts.apply(this, states);
    };
    try {
      const text = await registry.metrics();
      assert.equal(counted, 1);
      assert.notEqual(sample(text, 'ctp_etl_queue_jobs{queue="echo",state="waiting"}'), undefined, text);
      await registry.metrics();
      assert.equal(counted, 2, 'a later scrape reads them again');
    } finally {
      queue.getJobCounts = getJobCounts;
    }
  });

  it('`ctp-etl start` serves queue counts, job durations and per-bot sync lag with real values', async () => {
    const app = startCli(['start', '--port', '0', '--concurrency', '1'], cliEnv(env.config));
    try {
      const port = await listeningPort(app, 'board listening');
      const ok = await Promise.all([
        enqueue(queues, 'echo', { message: 'a', durationMs: 300 }),
        enqueue(queues, 'echo', { message: 'b' }),
      ]);
      const failed = await enqueue(queues, 'echo', { message: 'c', permanentFailure: true });
      await Promise.all(ok.map((job) => job.waitUntilFinished(events, 15_000)));
      await assert.rejects(failed.waitUntilFinished(events, 15_000));
      const waiting = await queues.get('echo')!.add('echo waiting', { message: 'later' }, { delay: 60_000 });

      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      await response.text();
      const text = await metricsOnce(port, 'ctp_etl_job_duration_seconds_count{job="echo",outcome="completed"}', 2);
      assert.equal(sample(text, 'ctp_etl_queue_jobs{queue="echo",state="completed"}'), 2, text);
      assert.equal(sample(text, 'ctp_etl_queue_jobs{queue="echo",state="failed"}'), 1);
      assert.equal(sample(text, 'ctp_etl_queue_jobs{queue="echo",state="delayed"}'), 1);
      assert.equal(sample(text, 'ctp_etl_queue_jobs{queue="echo",state="active"}'), 0);
      assert.equal(sample(text, 'ctp_etl_job_duration_seconds_count{job="echo",outcome="completed"}'), 2);
      assert.equal(sample(text, 'ctp_etl_job_duration_seconds_count{job="echo",outcome="failed"}'), 1);
      const seconds = sample(text, 'ctp_etl_job_duration_seconds_sum{job="echo",outcome="completed"}') ?? 0;
      assert.ok(seconds >= 0.3 && seconds < 10, `completed echo jobs ran ${seconds} s`);
      const lag = sample(text, 'ctp_etl_bot_sync_lag_seconds{instance="bot-0007"}') ?? 0;
      assert.ok(lag >= 90 && lag < 150, `bot-0007 lag ${lag}`);
      const never = sample(text, 'ctp_etl_bot_sync_lag_seconds{instance="bot-0003"}') ?? 0;
      assert.ok(never >= 600 && never < 660, `bot-0003, never synced, lags since discovery: ${never}`);
      assert.equal(
        sample(text, 'ctp_etl_bot_sync_lag_seconds{instance="bot-0009"}'),
        undefined,
        'a bot gone from disk is left out',
      );
      // The lag across the bots on disk (bot-0009 is gone): 90 s and 600 s, so the median is bot-0007's.
      const p50 = sample(text, 'ctp_etl_bot_sync_lag_quantile_seconds{quantile="0.5"}') ?? 0;
      assert.ok(p50 >= 90 && p50 < 150, `median lag ${p50}`);
      for (const quantile of ['0.95', '1']) {
        const value = sample(text, `ctp_etl_bot_sync_lag_quantile_seconds{quantile="${quantile}"}`) ?? 0;
        assert.ok(value >= 600 && value < 660, `lag quantile ${quantile}: ${value}`);
      }
      assert.equal(sample(text, 'ctp_etl_bots_behind'), 1, 'bot-0003 lags past twice SYNC_INTERVAL (5m)');
      await waiting.remove();
    } finally {
      app.child.kill('SIGTERM');
      assert.equal((await app.exited).code, 0, app.output());
    }
  });

  it('`ctp-etl start` serves the workers per queue, the sync interval and Redis memory, for the alert rules', async () => {
    // Workers for echo only: the other queues are ones no worker serves, so a job put there waits.
    const unserved = createQueues(env.config, env.runtime.redis('producer'), ['user-reconcile']).get('user-reconcile')!;
    await unserved.add('user-reconcile waiting', {}, { timestamp: Date.now() - 120_000 });
    await unserved.add('user-reconcile newer', {});
    const app = startCli(
      ['start', '--port', '0', '--concurrency', '1'],
      cliEnv(env.config, { WORKER_QUEUES: 'echo', SYNC_INTERVAL: '7m', WATCH_MODE: 'off' }),
    );
    try {
      const port = await listeningPort(app, 'board listening');
      const text = await metricsOnce(port, 'ctp_etl_queue_workers{queue="echo"}', 1);
      assert.equal(sample(text, 'ctp_etl_queue_workers{queue="user-reconcile"}'), 0, 'a queue no worker serves');
      assert.equal(sample(text, 'ctp_etl_bot_sync_interval_seconds'), 420);
      assert.equal(sample(text, 'ctp_etl_bots_behind'), 0, 'no bot lags past twice SYNC_INTERVAL (7m)');
      const oldest = sample(text, 'ctp_etl_queue_oldest_waiting_seconds{queue="user-reconcile"}') ?? 0;
      assert.ok(oldest >= 120 && oldest < 180, `the oldest waiting user-reconcile job waited ${oldest} s`);
      assert.equal(sample(text, 'ctp_etl_queue_oldest_waiting_seconds{queue="echo"}'), undefined, 'none waits on echo');
      const node = `${new URL(env.config.REDIS_URL).hostname}:${new URL(env.config.REDIS_URL).port || '6379'}`;
      const used = sample(text, `ctp_etl_redis_memory_used_bytes{node="${node}"}`) ?? 0;
      const info = await (await env.runtime.readyRedis('producer')).info('memory');
      const usedNow = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
      assert.ok(
        used > 100_000 && Math.abs(used - usedNow) < usedNow / 2,
        `Redis uses ${used} bytes (INFO now: ${usedNow})`,
      );
      const maxNow = Number(/^maxmemory:(\d+)/m.exec(info)?.[1]);
      assert.equal(sample(text, `ctp_etl_redis_memory_max_bytes{node="${node}"}`), maxNow);
      assert.doesNotMatch(text, /ctp_etl_watcher_running/, 'no watcher expected with WATCH_MODE=off');
    } finally {
      app.child.kill('SIGTERM');
      assert.equal((await app.exited).code, 0, app.output());
      await unserved.obliterate({ force: true });
      await unserved.close();
    }
  });

  it('a `worker` process serves its own job metrics on WORKER_METRICS_PORT', async () => {
    const worker = startCli(['worker', '--queues', 'echo'], cliEnv(env.config, { WORKER_METRICS_PORT: '0' }));
    try {
      const port = await listeningPort(worker, 'worker metrics listening');
      const job = await enqueue(queues, 'echo', { message: 'on a worker', failAttempts: 1 });
      await job.waitUntilFinished(events, 15_000);
      const text = await metricsOnce(port, 'ctp_etl_job_duration_seconds_count{job="echo",outcome="completed"}', 1);
      assert.equal(
        sample(text, 'ctp_etl_job_duration_seconds_count{job="echo",outcome="failed"}'),
        1,
        'the failed first attempt',
      );
      assert.doesNotMatch(text, /ctp_etl_queue_jobs/, 'queue counts come from the board only');
    } finally {
      worker.child.kill('SIGTERM');
      assert.equal((await worker.exited).code, 0, worker.output());
    }
  });

  it('a `watch` process serves ctp_etl_watcher_running on WORKER_METRICS_PORT: 1 while it watches', async () => {
    const bots = mkdtempSync(path.join(tmpdir(), 'ctp-etl-watch-metrics-'));
    const watch = startCli(
      ['watch'],
      cliEnv(env.config, { BOT_INSTANCES_DIR: bots, WORKER_METRICS_PORT: '0', SHUTDOWN_TIMEOUT: '5s' }),
    );
    try {
      const port = await listeningPort(watch, 'watch metrics listening');
      await watch.waitForOutput(/"msg":"watcher ready"/, 60_000);
      const text = await metricsOnce(port, 'ctp_etl_watcher_running', 1);
      assert.match(text, /# TYPE ctp_etl_error_events_total counter/);
    } finally {
      watch.child.kill('SIGTERM');
      assert.equal((await watch.exited).code, 0, watch.output());
      rmSync(bots, { recursive: true, force: true });
    }
  });
});
