import { linkSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import Database from 'better-sqlite3';
import { createRedis } from '../src/connections/redis.js';
import { syncBot } from '../src/bot-sync/sync-bot.js';
import { closeQueues } from '../src/queues/queues.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { benchEnv, benchScheduler, machine, peakRssMb, SCALE, timed } from './_bench-env.js';
import { sampleRss, startWorkers, stopWorkers } from './_bench-workers.js';

/**
 * 10,000 registered bots: time to discover and schedule them all, queue overhead per job, and
 * whether two worker processes keep up with a 5-minute interval at 1,000 trades per bot.
 * Every bot's folder holds a hard link to one generated 1,000-trade database (10,000 copies would
 * be 6 GB); the per-bot cost of a changed bot is measured on a bot of its own.
 */
const BOTS = Math.max(100, Math.round(10_000 * SCALE));
const TRADES = 1000;
const INTERVAL_S = 300;

const env = await benchEnv('scale', { SYNC_INTERVAL: '5m', PG_POOL_MAX: '10' });
const ctx = contextForLocalRun(env.runtime);
const shared = path.join(env.dir, 'shared.sqlite');
createBotDatabase(shared, { trades: TRADES, ordersPerTrade: 2, seed: 42 });
const bots = Array.from({ length: BOTS }, (_, i) => `bot-${String(i).padStart(5, '0')}`);
for (const bot of bots) {
  const file = botDbPath(env.config.BOT_INSTANCES_DIR, bot);
  mkdirSync(path.dirname(file), { recursive: true });
  linkSync(shared, file);
}

// 1. Discovery and schedules, then the same again (nothing to change), watching the scheduler's memory.
const { scheduler, queues, redis } = benchScheduler(env, ['bot-sync', 'turso-push', 'user-reconcile', 'echo']);
const firstPass = await timed(() => scheduler.runOnce());
const rssAfterFirst = process.memoryUsage().rss;
const laterPasses: number[] = [];
for (let i = 0; i < 5; i++) laterPasses.push((await timed(() => scheduler.runOnce())).ms);
const rssAfterSix = process.memoryUsage().rss;
await scheduler.stop();
// The schedules' first jobs are not wanted here: the run below enqueues one job per bot itself.
await queues.get('bot-sync')!.obliterate({ force: true });

// 2. Steady state: every bot synced once and unchanged since. One bot is synced for real; its
// state is copied to the others (they share its file), so their jobs take the unchanged path.
await syncBot(ctx, bots[0]!);
await env.runtime.pg.query(
  `INSERT INTO bot_sync_state (bot_id, source_fingerprint, trades_count, orders_count, last_success_at)
   SELECT b.id, s.source_fingerprint, s.trades_count, s.orders_count, now() FROM bots b, bot_sync_state s
   WHERE s.bot_id = (SELECT id FROM bots WHERE instance_id = $1) AND b.instance_id <> $1`,
  [bots[0]],
);

async function runAll(
  queueName: 'bot-sync' | 'echo',
  concurrency: number,
  payload: (bot: string) => object,
): Promise<{ ms: number; rss: number[][] }> {
  const events = new QueueEvents(queueName, {
    connection: createRedis(env.config, 'worker'),
    prefix: env.config.QUEUE_PREFIX,
  });
  await events.waitUntilReady();
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    const count = (): void => {
      done += 1;
      if (done === bots.length) resolve();
    };
    events.on('completed', count);
    events.on('failed', ({ failedReason }) => {
      process.stderr.write(`failed: ${failedReason}\n`);
      count();
    });
  });
  const queue = queues.get(queueName)!;
  const children = await startWorkers(env.config, queueName, {
    processes: 2,
    concurrency,
    env: { KEEP_COMPLETED_COUNT: '100' },
  });
  const rss = sampleRss(children);
  const result = await timed(async () => {
    for (let i = 0; i < bots.length; i += 1000) {
      await queue.addBulk(bots.slice(i, i + 1000).map((bot) => ({ name: `${queueName} ${bot}`, data: payload(bot) })));
    }
    await finished;
  });
  const samples = rss.stop();
  await stopWorkers(children);
  await events.close();
  return { ms: result.ms, rss: samples };
}

const CONCURRENCY = 4;
const echo = await runAll('echo', CONCURRENCY, (bot) => ({ message: bot }));
const steady = await runAll('bot-sync', CONCURRENCY, (bot) => ({ bot }));

// 3. A changed bot: 1% of its 1,000 trades changed since the last sync, measured on a bot of its own.
const own = 'bot-changing';
createBotDatabase(botDbPath(env.config.BOT_INSTANCES_DIR, own), { trades: TRADES, ordersPerTrade: 2, seed: 7 });
await syncBot(ctx, own);
const changedMs: number[] = [];
for (let round = 0; round < 20; round++) {
  const db = new Database(botDbPath(env.config.BOT_INSTANCES_DIR, own));
  db.prepare('UPDATE trades SET close_profit_abs = coalesce(close_profit_abs, 0) + 1 WHERE id % 100 = ?').run(round);
  db.close();
  changedMs.push((await timed(() => syncBot(ctx, own))).ms);
}
const changedMedian = [...changedMs].sort((a, b) => a - b)[Math.floor(changedMs.length / 2)]!;

const perSecond = (ms: number): number => Math.round((bots.length / ms) * 1000);
const needed = BOTS / INTERVAL_S;
const rssRange = (samples: number[][]): string =>
  samples.map((s) => (s.length ? `${Math.min(...s)}-${Math.max(...s)} MB` : 'n/a')).join(', ');
const changedCapacity = Math.round((2 * CONCURRENCY * 1000) / changedMedian);
process.stdout.write(
  [
    `scale: ${BOTS} bots, ${TRADES} trades + ${TRADES * 2} orders each; 2 worker processes x concurrency ${CONCURRENCY}; ${machine()}`,
    '| measure | value |',
    '| --- | --- |',
    `| discover + register + schedule ${BOTS} bots (first pass) | ${firstPass.ms} ms (${JSON.stringify(firstPass.value.schedules)}) |`,
    `| later passes, nothing to change (5 runs) | ${laterPasses.join(', ')} ms |`,
    `| scheduler RSS after the first pass / after six | ${Math.round(rssAfterFirst / 2 ** 20)} / ${Math.round(rssAfterSix / 2 ** 20)} MB |`,
    `| queue overhead: ${BOTS} no-op jobs through 2 workers | ${echo.ms} ms = ${perSecond(echo.ms)} jobs/s (${((echo.ms * 2 * CONCURRENCY) / BOTS).toFixed(1)} ms per job per slot) |`,
    `| ${BOTS} bot-sync jobs, bots unchanged since their last sync | ${steady.ms} ms = ${perSecond(steady.ms)} jobs/s; needed for a ${INTERVAL_S / 60}-minute interval: ${needed.toFixed(1)} jobs/s |`,
    `| worker RSS during those runs (min-max per process) | echo: ${rssRange(echo.rss)}; bot-sync: ${rssRange(steady.rss)} |`,
    `| one bot-sync with 1% of 1,000 trades changed (median of 20) | ${changedMedian} ms -> 2 workers do about ${changedCapacity} such jobs/s |`,
    `bench process peak RSS ${peakRssMb()} MB`,
    '',
  ].join('\n'),
);
await closeQueues(queues);
redis.disconnect();
await env.close();
