import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import type { Config } from '../src/config.js';
import { openBotDatabaseFile } from '../src/bots/bot-database-file.js';
import { indexWindow, scanWindow, WINDOW_RULES, type WindowScan } from '../src/bots/change-window.js';
import { pushBot } from '../src/turso/push-bot.js';
import { benchEnv, machine, processCpuMs } from './_bench-env.js';

/**
 * What one changed bot's turso-push costs in CPU (issue 25): a 1,000-trade bot (BENCH_TRADES; two
 * orders a trade, FreqTrade's newest schema) pushed to a libSQL file: target; then, ROUNDS times, one open
 * trade's max_rate moved and committed as FreqTrade's loop does, and the bot pushed: alternately
 * with a scan of the rows' dates (SYNC_DATE_SCAN_ROWS above the bot: every push before issue 25's
 * windows through indexes) and through indexes (SYNC_DATE_SCAN_ROWS=0, between date scans), one
 * of two identical bots each. Per push: this process's CPU (the push and the libSQL file target,
 * in process) and its PostgreSQL backends'; medians.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '20');
const TRADES = Number(process.env.BENCH_TRADES ?? '1000');

const env = await benchEnv('changed_push', { LOG_LEVEL: 'warn', PG_POOL_MAX: '2' });
/** CPU time (ms, from /proc/<pid>/schedstat: ns, not ticks) of the pool's PostgreSQL backends. */
const backends = new Set<number>();
env.runtime.pg.on('connect', (client) => {
  const pid = (client as { processID?: number | null }).processID;
  if (typeof pid === 'number') backends.add(pid);
});
function pgCpuMs(): number {
  let ns = 0;
  for (const pid of backends) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      backends.delete(pid); // its connection closed
    }
  }
  return ns / 1e6;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const byScan: Config = { ...env.config, SYNC_DATE_SCAN_ROWS: 1_000_000_000 };
const byIndex: Config = { ...env.config, SYNC_DATE_SCAN_ROWS: 0, SYNC_DATE_SCAN_INTERVAL: 3_600_000 };

/** Two identical bots, each pushed one way only: a push leaves the next its open rows, found its own way. */
const bots = [
  { name: 'by-scan', config: byScan },
  { name: 'by-index', config: byIndex },
].map(({ name, config }) => {
  const file = botDbPath(env.config.BOT_INSTANCES_DIR, name);
  createBotDatabase(file, { trades: TRADES, seed: 42, ordersPerTrade: 2, openShare: 50 / TRADES });
  writeFileSync(
    path.join(env.config.BOT_INSTANCES_DIR, name, 'sync-config.json'),
    JSON.stringify({ tursoUrl: `file:${path.join(env.dir, 'targets', `${name}.db`)}`, enabled: true }),
  );
  return { name, file, config };
});
type Bot = (typeof bots)[number];
const [scanBot, indexBot] = bots as [Bot, Bot];

/** FreqTrade's loop on one open trade: max_rate moved, committed (WAL, as FreqTrade runs). */
function moveOpenTrade(file: string, step: number): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.prepare(
      'UPDATE trades SET max_rate = coalesce(max_rate, 0) + ? WHERE id = (SELECT min(id) FROM trades WHERE is_open = 1)',
    ).run(step);
  } finally {
    db.close();
  }
}

const pushOf = (bot: Bot) =>
  pushBot({
    config: bot.config,
    pg: env.runtime.pg,
    instance: bot.name,
    signal: new AbortController().signal,
    log: async () => undefined,
    progress: async () => undefined,
  });

interface Cost {
  workerMs: number;
  pgMs: number;
  wallMs: number;
}

async function measuredPush(bot: Bot, step: number): Promise<Cost> {
  moveOpenTrade(bot.file, step);
  const [w0, p0, t0] = [processCpuMs(), pgCpuMs(), performance.now()];
  const result = await pushOf(bot);
  const cost = { workerMs: processCpuMs() - w0, pgMs: pgCpuMs() - p0, wallMs: performance.now() - t0 };
  if (result.windows === undefined || result.pushed !== 1)
    throw new Error(`not a windowed push of one row: ${JSON.stringify(result)}`);
  return cost;
}

function summary(costs: Cost[]): string {
  const f = (pick: (c: Cost) => number) => median(costs.map(pick)).toFixed(2);
  return `worker ${f((c) => c.workerMs)} ms + PostgreSQL ${f((c) => c.pgMs)} ms CPU, wall ${f((c) => c.wallMs)} ms`;
}

try {
  process.stdout.write(`changed-push CPU; ${machine()}; load ${loadavg()[0]!.toFixed(2)} at the start\n`);
  for (const bot of bots) await pushOf(bot);
  // Warm: the first windowed pushes load modules and plans.
  for (let round = 0; round < 3; round++) for (const bot of bots) await measuredPush(bot, 0.5);
  const scans: Cost[] = [];
  const indexes: Cost[] = [];
  // Alternated, so the machine's load weighs on both alike.
  for (let round = 0; round < ROUNDS; round++) {
    scans.push(await measuredPush(scanBot, round + 1));
    indexes.push(await measuredPush(indexBot, round + 1));
  }

  // The windows alone, each of FreqTrade's windowed tables in one read transaction: on a handle
  // kept open (statements prepared once) and on one opened for the read (as each push opens its own).
  const tables = Object.keys(WINDOW_RULES);
  const since = new Date(Date.now() - 60_000);
  const windows = (db: ReturnType<typeof openBotDatabaseFile>, scan: boolean): void => {
    db.exec('BEGIN');
    let tradeIds: number[] = [];
    for (const table of tables) {
      const held = { maxId: 1_000_000, openIds: [] };
      const found: WindowScan = scan
        ? scanWindow(db, table, since, held, tradeIds)
        : indexWindow(db, table, held, tradeIds, since);
      if (table === 'trades') tradeIds = found.ids;
    }
    db.exec('COMMIT');
  };
  const timedMs = (run: () => void): number => {
    const t0 = processCpuMs();
    run();
    return processCpuMs() - t0;
  };
  const { name: bot, file } = indexBot;
  const kept = openBotDatabaseFile(bot, file, { busyTimeoutMs: 5000 });
  const alone = (scan: boolean) => ({
    kept: median(Array.from({ length: ROUNDS }, () => timedMs(() => windows(kept, scan)))),
    fresh: median(
      Array.from({ length: ROUNDS }, () =>
        timedMs(() => {
          const db = openBotDatabaseFile(bot, file, { busyTimeoutMs: 5000 });
          windows(db, scan);
          db.close();
        }),
      ),
    ),
  });
  const scanAlone = alone(true);
  const indexAlone = alone(false);
  kept.close();
  process.stdout.write(
    `${TRADES}-trade bot, one open trade changed, median of ${ROUNDS} pushes each:\n` +
      `  dates scanned:   ${summary(scans)}\n` +
      `  through indexes: ${summary(indexes)}\n` +
      `the windows alone (${tables.join(', ')}), CPU: dates scanned ${scanAlone.kept.toFixed(2)} ms on a kept handle, ` +
      `${scanAlone.fresh.toFixed(2)} ms opened for the read; through indexes ${indexAlone.kept.toFixed(2)} ms, ${indexAlone.fresh.toFixed(2)} ms\n` +
      `load ${loadavg()[0]!.toFixed(2)} at the end\n`,
  );
} finally {
  await env.close();
}
