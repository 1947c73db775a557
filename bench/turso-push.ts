import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import type { PushResult } from '../src/turso/push-bot.js';
import { benchEnv, machine, peakRssMb, pushOneBot, type BenchEnv } from './_bench-env.js';

/**
 * turso-push: BOTS generated bots x TRADES trades (2 orders each, every table of FreqTrade's newest schema), pushed to
 * libSQL file: targets, with the push state in PostgreSQL. Full push, no-change push, then a
 * push after 1% of the rows changed. Then one big bot (BIG_TRADES trades, twice as many orders)
 * through the same runs, with the process's peak RSS: the push streams every side in key order.
 * Default 20 bots x 1,000 trades and a 100,000-trade bot; BENCH_SCALE=1 is 20 x 10,000 and
 * 1,000,000 trades + 2,000,000 orders.
 * Targets: a no-change push under 5% of a full push's time; a 1% change pushes at most 1.5% of
 * rows; the big bot's peak RSS under 250 MB with the shipped defaults.
 */
const scale = Number(process.env.BENCH_SCALE ?? '0.1');
const BOTS = Number(process.env.BENCH_TURSO_BOTS ?? '20');
const TRADES = Math.max(10, Math.round(10_000 * scale));
const BIG_TRADES = Math.max(10, Math.round(1_000_000 * scale));

/** A generated bot database of the newest FreqTrade schema, two orders per trade (so every edit below changes its row). */
function createBotDatabaseFile(file: string, trades: number): number {
  const made = createBotDatabase(file, { trades, ordersPerTrade: 2, seed: 11 });
  return Object.values(made.rows).reduce((sum, n) => sum + n, 0);
}

async function pushAll(env: BenchEnv, names: string[]): Promise<{ ms: number; results: PushResult[] }> {
  const started = performance.now();
  const results: PushResult[] = [];
  for (const instance of names) results.push(await pushOneBot(env, instance));
  return { ms: performance.now() - started, results };
}

async function createBots(env: BenchEnv, names: string[], trades: number): Promise<number> {
  let rows = 0;
  await mkdir(path.join(env.dir, 'targets'), { recursive: true });
  for (const name of names) {
    const dir = path.join(env.config.BOT_INSTANCES_DIR, name);
    await mkdir(path.join(dir, 'user_data'), { recursive: true });
    rows += createBotDatabaseFile(path.join(dir, 'user_data', 'tradesv3.sqlite'), trades);
    await writeFile(
      path.join(dir, 'sync-config.json'),
      JSON.stringify({ tursoUrl: `file:${path.join(env.dir, 'targets', `${name}.db`)}`, enabled: true }),
    );
  }
  return rows;
}

interface Figure {
  run: string;
  pushed: number;
  ms: number;
  rssMb: number;
}

/** Full, no-change (file unchanged, then file times moved) and 1%-changed pushes of these bots. */
async function runs(env: BenchEnv, names: string[]): Promise<Figure[]> {
  // Bot files written less than 2 s before a push are not trusted to be unchanged (mtime
  // granularity); real idle bots' files are older than that, so let these age as theirs would.
  const past = (seconds: number) => new Date(Date.now() - seconds * 1000);
  const age = async () => {
    for (const name of names) {
      const file = path.join(env.config.BOT_INSTANCES_DIR, name, 'user_data', 'tradesv3.sqlite');
      await utimes(file, past(120), past(120));
    }
  };
  await age();
  const figures: Figure[] = [];
  const run = async (label: string) => {
    const { ms, results } = await pushAll(env, names);
    const pushed = results.reduce((sum, r) => sum + r.pushed + r.deleted, 0);
    figures.push({ run: label, pushed, ms: Math.round(ms), rssMb: peakRssMb() });
  };
  await run('full push');
  await run('no-change push');
  // The same no-change push when the files' times moved (a checkpoint, a touch): every row is
  // read, hashed and merged with the records again, and still nothing is pushed.
  for (const name of names) {
    const file = path.join(env.config.BOT_INSTANCES_DIR, name, 'user_data', 'tradesv3.sqlite');
    await utimes(file, past(60), past(60));
  }
  await run('no-change push, file times moved (all rows re-hashed)');
  // 1% of each table's rows change: every 100th trade and every 100th order.
  for (const name of names) {
    const db = new Database(path.join(env.config.BOT_INSTANCES_DIR, name, 'user_data', 'tradesv3.sqlite'));
    db.exec(
      "UPDATE trades SET close_profit = 0.5, exit_reason = 'roi' WHERE id % 100 = 0; UPDATE orders SET status = 'closed' WHERE id % 100 = 0",
    );
    db.close();
  }
  await run('1%-changed push');
  return figures;
}

function table(title: string, rows: number, figures: Figure[]): string {
  return (
    `\n| ${title} (${rows} rows) | rows pushed | time | peak RSS so far |\n| --- | --- | --- | --- |\n` +
    figures.map((f) => `| ${f.run} | ${f.pushed} | ${(f.ms / 1000).toFixed(2)} s | ${f.rssMb} MB |`).join('\n') +
    '\n'
  );
}

const env = await benchEnv('turso_push');
try {
  process.stdout.write(`machine: ${machine()}\n`);
  // The big bot first: the process's peak RSS is then its own.
  const bigRows = await createBots(env, ['bench-big-bot'], BIG_TRADES);
  const big = await runs(env, ['bench-big-bot']);
  for (const f of big)
    process.stdout.write(
      `${JSON.stringify({ bench: 'turso-push', bots: 1, trades: BIG_TRADES, rows: bigRows, ...f })}\n`,
    );
  process.stdout.write(table(`turso-push, 1 bot x ${BIG_TRADES} trades`, bigRows, big));
  const bigPeak = Math.max(...big.map((f) => f.rssMb));
  process.stdout.write(`big bot peak RSS ${bigPeak} MB (target < 250 MB): ${bigPeak < 250 ? 'met' : 'MISSED'}\n`);

  const names = Array.from({ length: BOTS }, (_, i) => `bench-bot-${String(i).padStart(2, '0')}`);
  const rows = await createBots(env, names, TRADES);
  const fleet = await runs(env, names);
  for (const f of fleet)
    process.stdout.write(`${JSON.stringify({ bench: 'turso-push', bots: BOTS, trades: TRADES, rows, ...f })}\n`);
  process.stdout.write(table(`turso-push, ${BOTS} bots x ${TRADES} trades`, rows, fleet));
  const [full, unchanged, , changed] = fleet;
  const noChangeRatio = unchanged!.ms / full!.ms;
  const changedShare = changed!.pushed / rows;
  process.stdout.write(
    `no-change / full time: ${(noChangeRatio * 100).toFixed(2)}% (target < 5%): ${noChangeRatio < 0.05 ? 'met' : 'MISSED'}\n` +
      `1% change pushed ${(changedShare * 100).toFixed(2)}% of rows (target <= 1.5%): ${changedShare <= 0.015 ? 'met' : 'MISSED'}\n`,
  );
} finally {
  await env.close();
}
