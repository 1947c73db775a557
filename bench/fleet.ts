import { copyFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { createRedis } from '../src/connections/redis.js';
import type { BotSyncResult } from '../src/bot-sync/sync-bot.js';
import { closeQueues, createQueues } from '../src/queues/queues.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { benchEnv, machine, SCALE } from './_bench-env.js';
import { cpuMsOf, pgBackendsOf, sampleRss, startWorkers, stopWorkers } from './_bench-workers.js';
import { changeOnePercent } from './_freqtrade-change.js';

/**
 * The fleet (issue 14 (c)): BOTS bots, each with a database file of its own (1,000 trades, 2
 * orders a trade, 50 open), first-synced by the workers; then 1% of every bot's trades changed as
 * FreqTrade changes them (_freqtrade-change.ts), and one bot-sync job per bot enqueued at once.
 * Measured: changed-bot syncs per second through 2 worker processes x concurrency 4, from the
 * first add to the last completion, and how each sync read (change windows, full compare).
 * Target: at least 10x the 33/s of the whole-bot syncs before change windows (330/s).
 */
const BOTS = Math.max(100, Math.round(10_000 * SCALE));
const TRADES = 1000;
const PROCESSES = 2;
const CONCURRENCY = 4;
const CORES = cpus().length;

const env = await benchEnv('fleet', { PG_POOL_MAX: '10' });
const redis = createRedis(env.config, 'worker');
const queues = createQueues(env.config, redis, ['bot-sync']);
const queue = queues.get('bot-sync')!;
const bots = Array.from({ length: BOTS }, (_, i) => `fleet-${String(i).padStart(5, '0')}`);

interface Run {
  ms: number;
  failed: number;
  results: BotSyncResult[];
  rss: number[][];
  load: number;
  /** CPU time spent by the workers and by their PostgreSQL backends while the jobs ran. */
  workerCpuMs: number;
  pgCpuMs: number;
}

/** One bot-sync job per bot, all added at once; resolves when every one has ended. */
async function syncAll(profileDir?: string): Promise<Run> {
  const events = new QueueEvents('bot-sync', {
    connection: createRedis(env.config, 'worker'),
    prefix: env.config.QUEUE_PREFIX,
  });
  await events.waitUntilReady();
  const results: BotSyncResult[] = [];
  let failed = 0;
  const ended = new Promise<void>((resolve) => {
    const count = (): void => {
      if (results.length + failed === bots.length) resolve();
    };
    events.on('completed', ({ returnvalue }) => {
      results.push((typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as BotSyncResult);
      count();
    });
    events.on('failed', ({ failedReason }) => {
      failed += 1;
      if (failed <= 5) process.stderr.write(`failed: ${failedReason}\n`);
      count();
    });
  });
  const workers = await startWorkers(env.config, 'bot-sync', {
    processes: PROCESSES,
    concurrency: CONCURRENCY,
    env: { KEEP_COMPLETED_COUNT: '100' },
    nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  const workerPids = workers.map((w) => w.pid!);
  const workerCpuAtStart = workerPids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  process.stderr.write(`workers ready, adding ${bots.length} jobs\n`);
  const rss = sampleRss(workers);
  const started = performance.now();
  for (let i = 0; i < bots.length; i += 1000) {
    await queue.addBulk(bots.slice(i, i + 1000).map((bot) => ({ name: `bot-sync ${bot}`, data: { bot } })));
  }
  await ended;
  const ms = Math.round(performance.now() - started);
  const load = loadavg()[0]!;
  const workerCpuMs = workerPids.reduce((sum, pid) => sum + cpuMsOf(pid), 0) - workerCpuAtStart;
  // The backends were opened by these workers during this run: all of their time is this run's.
  const backends = await pgBackendsOf(workerPids, env.runtime.pg);
  const pgCpuMs = backends.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  process.stderr.write(`all ${bots.length} jobs ended; stopping workers\n`);
  const samples = rss.stop();
  await stopWorkers(workers);
  await events.close();
  return { ms, failed, results, rss: samples, load, workerCpuMs, pgCpuMs };
}

const perSecond = (run: Run): number => Math.round((bots.length / run.ms) * 1000);
const rssRange = (samples: number[][]): string =>
  samples.map((s) => (s.length ? `${Math.min(...s)}-${Math.max(...s)} MB` : 'n/a')).join(', ');
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;

try {
  process.stdout.write(`fleet: ${BOTS} bots, ${TRADES} trades each; ${machine()}\n`);
  const template = path.join(env.dir, 'template.sqlite');
  createBotDatabase(template, { trades: TRADES, ordersPerTrade: 2, seed: 42, openShare: 50 / TRADES, wal: false });
  for (const bot of bots) {
    const file = botDbPath(env.config.BOT_INSTANCES_DIR, bot);
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(template, file);
  }

  const first = await syncAll();
  process.stdout.write(
    `first syncs: ${first.ms} ms = ${perSecond(first)} bots/s, ${first.failed} failed, load ${first.load.toFixed(2)}\n`,
  );

  const changeStarted = performance.now();
  let changedTrades = 0;
  bots.forEach(
    (bot, i) => (changedTrades += changeOnePercent(botDbPath(env.config.BOT_INSTANCES_DIR, bot), TRADES, i + 1)),
  );
  const changeMs = Math.round(performance.now() - changeStarted);
  // A write within the file system's timestamp granularity makes a fingerprint wait; let the last settle.
  await new Promise((resolve) => setTimeout(resolve, 1500));

  const changed = await syncAll(process.env.BENCH_CPU_PROF_DIR);
  const windowed = changed.results.filter((r) => r.fullCompare === undefined && r.skipped === undefined).length;
  const skipped = changed.results.filter((r) => r.skipped !== undefined).length;
  const written = changed.results.reduce((sum, r) => sum + r.inserted + r.updated + r.deleted, 0);
  const jobMs = changed.results.map((r) => r.ms);
  const rate = perSecond(changed);
  process.stdout.write(
    [
      '| measure | value |',
      '| --- | --- |',
      `| first sync of ${BOTS} bots (${TRADES} trades + ${TRADES * 2} orders each) | ${first.ms} ms = ${perSecond(first)} bots/s (load ${first.load.toFixed(2)}) |`,
      `| 1% of every bot's trades changed (${changedTrades} trades opened or closed) | ${changeMs} ms |`,
      `| **changed-bot syncs, ${PROCESSES} workers x concurrency ${CONCURRENCY}** | ${changed.ms} ms = **${rate} bots/s** (target >= 330: ${rate >= 330 ? 'met' : 'MISSED'}); load ${changed.load.toFixed(2)} at the end |`,
      `| how they read | ${windowed} change windows, ${changed.results.length - windowed - skipped} full compares, ${skipped} skipped as unchanged, ${changed.failed} failed |`,
      `| rows written | ${written} (${(written / Math.max(1, changed.results.length)).toFixed(1)} a bot) |`,
      `| one sync's own time (job result ms) p50 / p95 / p99 | ${percentile(jobMs, 0.5)} / ${percentile(jobMs, 0.95)} / ${percentile(jobMs, 0.99)} ms |`,
      `| CPU per changed-bot sync: workers / their PostgreSQL backends | ${(changed.workerCpuMs / BOTS).toFixed(1)} / ${(changed.pgCpuMs / BOTS).toFixed(1)} ms (first sync: ${(first.workerCpuMs / BOTS).toFixed(1)} / ${(first.pgCpuMs / BOTS).toFixed(1)} ms); so ${CORES} cores run at most ${Math.round((CORES * 1000 * BOTS) / (changed.workerCpuMs + changed.pgCpuMs))} changed-bot syncs/s |`,
      `| worker RSS (min-max per process) | first syncs: ${rssRange(first.rss)}; changed: ${rssRange(changed.rss)} |`,
      '',
    ].join('\n'),
  );
} finally {
  await closeQueues(queues);
  redis.disconnect();
  await env.close();
}
