import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { botSyncHandler } from '../src/jobs/bot-sync/handler.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { benchEnv, machine, SCALE } from './_bench-env.js';
import { changeOnePercent } from './_freqtrade-change.js';

/**
 * What one changed bot's sync costs in CPU (issue 25, item 2), in this process with a warm worker
 * (the bot-sync job's handler: the hold guard, then the sync), one PostgreSQL connection (so its
 * backend's CPU is the sync's): (a) a 1,000-trade bot, 1% of its trades changed as FreqTrade
 * changes them (_freqtrade-change.ts), ROUNDS times; (b) one open trade's max_rate updated and
 * committed as FreqTrade's loop does (adjust_min_max_rates, then Trade.commit()) on a 1,000-trade
 * and a BIG-trade bot, 5 times each. Per sync: worker CPU (process.cpuUsage), PostgreSQL backend
 * CPU (/proc/<pid>/schedstat, ns), PostgreSQL statements, SQLite statements prepared. Medians.
 * Targets: (a) at most 3 ms, worker and PostgreSQL together; (b) the big bot at most 1.5x the small.
 */
const ROUNDS = 15;
const BIG = Math.max(10_000, Math.round(200_000 * SCALE));

const env = await benchEnv('changed_cpu', { PG_POOL_MAX: '1', LOG_LEVEL: 'warn' });
// Each job.log line and progress update is a Redis round trip in a worker: counted here.
let redisCalls = 0;
const local = contextForLocalRun(env.runtime);
const ctx = {
  ...local,
  log: (line: string) => ((redisCalls += 1), local.log(line)),
  progress: (value: Parameters<typeof local.progress>[0]) => ((redisCalls += 1), local.progress(value)),
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let backend = 0;
function backendNs(): number {
  try {
    return Number(readFileSync(`/proc/${backend}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN; // not connected yet, or the pool closed it while idle
  }
}
// Counted for the figures only: every statement the sync sends PostgreSQL, every SQLite prepare.
let pgStatements = 0;
const statementTexts: string[] = [];
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  pgStatements += 1;
  const first = args[0];
  const text = (typeof first === 'string' ? first : String((first as { text?: string }).text ?? 'copy'))
    .replace(/\s+/g, ' ')
    .slice(0, 90);
  const before = backendNs();
  const record = () => statementTexts.push(`${((backendNs() - before) / 1e6).toFixed(2)} ms  ${text}`);
  // pg-pool's own queries pass a callback (no promise): timed through it.
  const callback = args.at(-1);
  if (typeof callback === 'function')
    args[args.length - 1] = (...results: unknown[]) => (
      record(),
      (callback as (...r: unknown[]) => unknown)(...results)
    );
  const sent = (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  if (sent instanceof Promise) void sent.then(record, () => undefined);
  return sent;
} as typeof clientQuery;
let sqlitePrepares = 0;
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (this: Database.Database, source: string) {
  sqlitePrepares += 1;
  return prepare.call(this, source);
} as typeof prepare;

/** The one connection's backend (the pool may have closed an idle one and opened another). */
async function findBackend(): Promise<void> {
  const { rows } = await env.runtime.pg.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  backend = rows[0]!.pid;
}
await findBackend();
if (process.env.BENCH_EXPLAIN !== undefined)
  await env.runtime.pg.query(
    `LOAD 'auto_explain'; SET auto_explain.log_min_duration = ${Number(process.env.BENCH_EXPLAIN)}; SET auto_explain.log_analyze = on`,
  );
const workerNs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
};

interface Cost {
  workerMs: number;
  pgMs: number;
  statements: number;
  prepares: number;
  /** job.log lines and progress updates (a Redis round trip each in a worker). */
  redis: number;
}

async function measuredSync(bot: string, config = ctx.config): Promise<Cost> {
  await findBackend();
  pgStatements = 0;
  sqlitePrepares = 0;
  redisCalls = 0;
  statementTexts.length = 0;
  const pg0 = backendNs();
  const w0 = workerNs();
  const result = await botSyncHandler.handle({ bot, fullCompare: false }, { ...ctx, config });
  const workerMs = (workerNs() - w0) / 1e6;
  const pgMs = (backendNs() - pg0) / 1e6;
  if ('skipped' in result && result.skipped !== undefined) throw new Error(`bot ${bot}: the sync skipped the change`);
  if ('fullCompare' in result && result.fullCompare !== undefined)
    throw new Error(`bot ${bot}: compared every row: ${result.fullCompare}`);
  return { workerMs, pgMs, statements: pgStatements, prepares: sqlitePrepares, redis: redisCalls };
}

function summary(costs: Cost[]): string {
  const w = median(costs.map((c) => c.workerMs));
  const p = median(costs.map((c) => c.pgMs));
  const t = median(costs.map((c) => c.workerMs + c.pgMs));
  return (
    `${t.toFixed(2)} ms (worker ${w.toFixed(2)} + PostgreSQL ${p.toFixed(2)}); ` +
    `${median(costs.map((c) => c.statements))} PostgreSQL statements, ${median(costs.map((c) => c.prepares))} SQLite prepares, ` +
    `${median(costs.map((c) => c.redis))} job.log lines and progress updates`
  );
}

/** FreqTrade's loop on one open trade: max_rate moved, committed (WAL, as FreqTrade runs). */
function moveOpenTrade(file: string, step: number): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    const trade = db.prepare<[], { id: number }>('SELECT id FROM trades WHERE is_open = 1 ORDER BY id LIMIT 1').get();
    if (trade === undefined) throw new Error(`${file} has no open trade`);
    db.prepare('UPDATE trades SET max_rate = coalesce(max_rate, 0) + ? WHERE id = ?').run(step, trade.id);
  } finally {
    db.close();
  }
}

function makeBot(name: string, trades: number, seed: number): string {
  const file = botDbPath(env.config.BOT_INSTANCES_DIR, name);
  createBotDatabase(file, { trades, seed, ordersPerTrade: 2, openShare: 50 / trades });
  return file;
}

try {
  process.stdout.write(
    `changed-bot CPU; ${machine()}; SQLITE_HANDLE_CACHE=${env.config.SQLITE_HANDLE_CACHE}; load ${loadavg()[0]!.toFixed(2)} at the start\n`,
  );
  const small = makeBot('small', 1000, 42);
  await botSyncHandler.handle({ bot: 'small', fullCompare: false }, ctx);
  // A fleet's tables are analysed (autovacuum); a schema of one new bot's rows would not be yet.
  await env.runtime.pg.query(
    'ANALYZE trades_aggregated; ANALYZE orders; ANALYZE pairlocks; ANALYZE trade_custom_data; ANALYZE wallet_history; ANALYZE key_value_store',
  );
  // Warm: the first changed syncs load modules and plans.
  for (let round = 0; round < 3; round++) {
    changeOnePercent(small, 1000, 900 + round);
    await measuredSync('small');
  }
  const onePercent: Cost[] = [];
  // BENCH_PROFILE=<file>: a CPU profile of these rounds alone (the syncs, not the set-up).
  const profiler = process.env.BENCH_PROFILE === undefined ? undefined : new Session();
  profiler?.connect();
  await profiler?.post('Profiler.enable');
  await profiler?.post('Profiler.setSamplingInterval', { interval: 100 });
  await profiler?.post('Profiler.start');
  for (let round = 0; round < ROUNDS; round++) {
    changeOnePercent(small, 1000, 100 + round);
    onePercent.push(await measuredSync('small'));
  }
  if (profiler !== undefined) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
  }
  if (process.env.BENCH_STATEMENTS === '1')
    process.stdout.write(`statements of the last sync:\n${statementTexts.join('\n')}\n`);
  process.stdout.write(
    `(a) 1,000-trade bot, 1% changed: median of ${ROUNDS}: ${summary(onePercent)}; target <= 3 ms\n`,
  );

  const oneTrade = async (bot: string, file: string): Promise<Cost[]> => {
    const costs: Cost[] = [];
    for (let round = 0; round < 6; round++) {
      moveOpenTrade(file, round + 1);
      const cost = await measuredSync(bot);
      if (round > 0) costs.push(cost); // the first: warm-up
    }
    return costs;
  };
  const smallOne = await oneTrade('small', small);
  const big = makeBot('big', BIG, 7);
  const firstStarted = performance.now();
  await botSyncHandler.handle({ bot: 'big', fullCompare: false }, ctx);
  await env.runtime.pg.query(
    'ANALYZE trades_aggregated; ANALYZE orders; ANALYZE pairlocks; ANALYZE trade_custom_data; ANALYZE wallet_history; ANALYZE key_value_store',
  );
  const firstMs = Math.round(performance.now() - firstStarted);
  const bigProfiler = process.env.BENCH_PROFILE === undefined ? undefined : new Session();
  bigProfiler?.connect();
  await bigProfiler?.post('Profiler.enable');
  await bigProfiler?.post('Profiler.start');
  const bigOne = await oneTrade('big', big);
  if (bigProfiler !== undefined) {
    const { profile } = await bigProfiler.post('Profiler.stop');
    writeFileSync(`${process.env.BENCH_PROFILE!}.big`, JSON.stringify(profile));
    bigProfiler.disconnect();
  }
  if (process.env.BENCH_STATEMENTS === '1')
    process.stdout.write(`statements of the big bot's last sync:\n${statementTexts.join('\n')}\n`);
  // What a big bot pays once every SYNC_DATE_SCAN_INTERVAL: the same change, its dates scanned too.
  moveOpenTrade(big, 99);
  const dateScan = await measuredSync('big', { ...ctx.config, SYNC_DATE_SCAN_INTERVAL: 0 });
  const ratio = median(bigOne.map((c) => c.workerMs + c.pgMs)) / median(smallOne.map((c) => c.workerMs + c.pgMs));
  process.stdout.write(
    [
      `(b) one open trade's max_rate committed, median of 5 (warm):`,
      `  1,000-trade bot: ${summary(smallOne)}`,
      `  ${BIG}-trade bot (first sync ${firstMs} ms): ${summary(bigOne)}`,
      `  big / small: ${ratio.toFixed(2)}x (target <= 1.5x: ${ratio <= 1.5 ? 'met' : 'MISSED'})`,
      `  the big bot's run that scans its dates too (once every SYNC_DATE_SCAN_INTERVAL): ${summary([dateScan])}`,
      `load ${loadavg()[0]!.toFixed(2)} at the end`,
      '',
    ].join('\n'),
  );
} finally {
  pg.Client.prototype.query = clientQuery;
  Database.prototype.prepare = prepare;
  await env.close();
}
