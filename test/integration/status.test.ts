import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { enqueue } from '../../src/producers/enqueue.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { WorkerPool } from '../../src/workers/worker-pool.js';
import { seedBotSyncState } from '../helpers/bot-sync-state.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import type { LagDistribution } from '../../src/monitoring/bot-sync-lag.js';

interface StatusJson {
  queues: Array<{ queue: string; counts: Record<string, number>; oldestWaitingSeconds: number | null }>;
  recentFailures: Array<{
    queue: string;
    jobId: string;
    name: string;
    failedReason: string;
    failedAt: string;
    attempts: number;
  }>;
  bots: Array<{
    instance: string;
    lagSeconds: number;
    lastSuccessAt: string | null;
    lastError: string | null;
    missingSince: string | null;
  }>;
  lag: LagDistribution;
}

describe('ctp-etl status', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let queues: Queues;

  before(async () => {
    env = await createTestEnvironment('status', { JOB_ATTEMPTS: '1' });
    queues = createQueues(env.config, env.runtime.redis('producer'), ['echo']);
    const events = new QueueEvents('echo', {
      connection: env.runtime.redis('worker'),
      prefix: env.config.QUEUE_PREFIX,
    });
    await events.waitUntilReady();
    const pool = new WorkerPool(env.runtime, env.runtime.redis('worker'), { queues: ['echo'], concurrency: 1 });
    pool.start();
    await pool.ready();
    try {
      await (await enqueue(queues, 'echo', { message: 'fine' })).waitUntilFinished(events, 15_000);
      for (const message of ['first broken', 'second broken']) {
        const job = await enqueue(queues, 'echo', { message, permanentFailure: true });
        await assert.rejects(job.waitUntilFinished(events, 15_000));
      }
    } finally {
      await pool.stop();
      await events.close();
    }
    await queues.get('echo')!.add('echo later', { message: 'later' }, { delay: 60_000 });
    // Waiting for two minutes: the backlog's age.
    await queues.get('echo')!.add('echo next', { message: 'next' }, { timestamp: Date.now() - 120_000 });
    await seedBotSyncState(env.db.pool, [
      { instance: 'bot-0007', syncedSecondsAgo: 90 },
      { instance: 'bot-0003', discoveredSecondsAgo: 7200, lastError: 'bot-0003: tradesv3.sqlite is not a database' },
    ]);
  });

  after(async () => {
    await closeQueues(queues);
    await env.cleanup({ keep: tracker.failed });
  });

  it('prints queue depths, recent failures (newest first) and per-bot lag as JSON', async () => {
    const { code, output } = await runCli(['status', '--json'], cliEnv(env.config, { LOG_LEVEL: 'silent' }));
    assert.equal(code, 0, output);
    const report = JSON.parse(output) as StatusJson;
    const echo = report.queues.find((queue) => queue.queue === 'echo');
    assert.deepEqual(
      {
        waiting: echo?.counts.waiting,
        delayed: echo?.counts.delayed,
        failed: echo?.counts.failed,
        completed: echo?.counts.completed,
        active: echo?.counts.active,
      },
      { waiting: 1, delayed: 1, failed: 2, completed: 1, active: 0 },
    );
    assert.deepEqual(
      report.recentFailures.map((failure) => failure.name),
      ['echo second broken', 'echo first broken'],
    );
    assert.equal(report.recentFailures[0]?.failedReason, 'echo refused "second broken" permanently');
    assert.equal(report.recentFailures[0]?.attempts, 1);
    assert.ok(Date.now() - Date.parse(report.recentFailures[0]!.failedAt) < 60_000);
    assert.deepEqual(
      report.bots.map((bot) => bot.instance),
      ['bot-0003', 'bot-0007'],
    );
    assert.ok(report.bots[0]!.lagSeconds >= 7200 && report.bots[0]!.lagSeconds < 7300);
    assert.equal(report.bots[0]!.lastSuccessAt, null);
    assert.match(report.bots[0]!.lastError ?? '', /not a database/);
    assert.ok(report.bots[1]!.lagSeconds >= 90 && report.bots[1]!.lagSeconds < 150);
    const oldest = echo?.oldestWaitingSeconds ?? 0;
    assert.ok(oldest >= 120 && oldest < 180, `the oldest waiting echo job waited ${oldest} s`);
    // Lags of 90 s and 7,200 s: the median is the first, the 95th percentile and the maximum the second.
    const { p50Seconds, p95Seconds, maxSeconds, ...counts } = report.lag;
    assert.deepEqual(counts, { bots: 2, behind: 1, behindAfterSeconds: 600 });
    assert.ok(p50Seconds !== null && p50Seconds >= 90 && p50Seconds < 150, `p50 ${p50Seconds}`);
    assert.equal(p95Seconds, report.bots[0]!.lagSeconds);
    assert.equal(maxSeconds, report.bots[0]!.lagSeconds);
  });

  it('prints the same as terminal tables, and --failures limits the list', async () => {
    const { code, output } = await runCli(['status', '--failures', '1'], cliEnv(env.config, { LOG_LEVEL: 'silent' }));
    assert.equal(code, 0, output);
    assert.match(
      output,
      /^Queues\nqueue +waiting +oldest waiting +active +delayed +failed +completed\n[- ]+\necho +1 +2m [0-5]?\ds +0 +1 +2 +1\n/,
    );
    assert.match(
      output,
      /Recent failures\nfailed at +queue +job +attempts +reason\n[- ]+\n\S+Z +echo +echo second broken \(#\d+\) +1 +echo refused "second broken" permanently\n\n/,
    );
    assert.doesNotMatch(output, /first broken/);
    assert.match(
      output,
      /Bot sync lag: 2 bots, p50 (1m [3-5]\d|2m [0-2]\d)s, p95 2h 0m, max 2h 0m; 1 behind \(lag over 10m 0s, twice SYNC_INTERVAL\)\nbot +lag +last success +last error\n[- ]+\nbot-0003 +2h 0m +never +\S+Z bot-0003: tradesv3\.sqlite is not a database\nbot-0007 +(1m [3-5]\d|2m [0-2]\d)s +\S+Z\n\nHeld bots/,
    );
    assert.match(output, /Held bots \(nothing enqueued for them\)\nnone\n?$/);
  });

  it('says what to do when the schema is not migrated', async () => {
    const { code, output } = await runCli(
      ['status'],
      cliEnv(env.config, { LOG_LEVEL: 'silent', PG_SCHEMA: 'status_not_migrated' }),
    );
    assert.equal(code, 1);
    assert.match(output, /Cannot read bot sync state \(has `ctp-etl migrate` run\?\): relation "bots" does not exist/);
  });

  it('names the PostgreSQL it could not reach, without its password, and suggests no migrate', async () => {
    const { code, output } = await runCli(
      ['status'],
      cliEnv(env.config, { LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/postgres' }),
    );
    assert.equal(code, 1);
    assert.match(
      output,
      /Cannot read bot sync state from postgres:\/\/\*\*\*@127\.0\.0\.1:1\/postgres: .*ECONNREFUSED/,
    );
    assert.doesNotMatch(output, /migrate|hunter2/);
  });
});
