import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { pushBot, type PushResult } from '../src/jobs/turso/push-bot.js';

/**
 * turso-push: BOTS generated bots x TRADES trades (2 orders each, every table of FreqTrade's newest schema), pushed to
 * libSQL file: targets. Full push, no-change push, then a push after 1% of the rows changed.
 * Default 20 bots x 1,000 trades; BENCH_SCALE=1 is the full 20 x 10,000.
 * Targets: a no-change push under 5% of a full push's time; a 1% change pushes at most 1.5% of rows.
 */
const scale = Number(process.env.BENCH_SCALE ?? '0.1');
const BOTS = 20;
const TRADES = Math.max(10, Math.round(10_000 * scale));

/** A generated bot database of the newest FreqTrade schema, two orders per trade (so every edit below changes its row). */
function createBotDatabaseFile(file: string): number {
  const made = createBotDatabase(file, { trades: TRADES, ordersPerTrade: 2, seed: 11 });
  return Object.values(made.rows).reduce((sum, n) => sum + n, 0);
}

async function pushAll(root: string, names: string[]): Promise<{ ms: number; results: PushResult[] }> {
  const config = {
    BOT_INSTANCES_DIR: path.join(root, 'bots'),
    BOT_DB_FILENAMES: ['tradesv3.sqlite'],
    SQLITE_BUSY_TIMEOUT: 5000,
    TURSO_STATE_DIR: path.join(root, 'state'),
    TURSO_BATCH_BYTES: 1_000_000,
  };
  const started = performance.now();
  const results: PushResult[] = [];
  const signal = new AbortController().signal;
  for (const instance of names) {
    results.push(
      await pushBot({ config, instance, signal, log: async () => undefined, progress: async () => undefined }),
    );
  }
  return { ms: performance.now() - started, results };
}

const root = await mkdtemp(path.join(tmpdir(), 'bench-turso-push-'));
try {
  const names = Array.from({ length: BOTS }, (_, i) => `bench-bot-${String(i).padStart(2, '0')}`);
  let rows = 0;
  for (const name of names) {
    const dir = path.join(root, 'bots', name);
    await mkdir(path.join(dir, 'user_data'), { recursive: true });
    rows += createBotDatabaseFile(path.join(dir, 'user_data', 'tradesv3.sqlite'));
    await writeFile(
      path.join(dir, 'sync-config.json'),
      JSON.stringify({ tursoUrl: `file:${path.join(root, 'targets', `${name}.db`)}`, enabled: true }),
    );
  }
  await mkdir(path.join(root, 'targets'));
  // Bot files written less than 2 s before a push are not trusted to be unchanged (mtime
  // granularity); real idle bots' files are older than that, so let these age as theirs would.
  await new Promise((resolve) => setTimeout(resolve, 2100));

  const full = await pushAll(root, names);
  const unchanged = await pushAll(root, names);
  // The same no-change push when the files' times moved (a checkpoint, a touch): every row is
  // read and hashed again, and still nothing is pushed.
  const past = new Date(Date.now() - 60_000);
  for (const name of names) await utimes(path.join(root, 'bots', name, 'user_data', 'tradesv3.sqlite'), past, past);
  const rehashed = await pushAll(root, names);
  // 1% of each table's rows change: every 100th trade and every 100th order.
  for (const name of names) {
    const db = new Database(path.join(root, 'bots', name, 'user_data', 'tradesv3.sqlite'));
    db.exec(
      "UPDATE trades SET close_profit = 0.5, exit_reason = 'roi' WHERE id % 100 = 0; UPDATE orders SET status = 'canceled' WHERE id % 100 = 0",
    );
    db.close();
  }
  const changed = await pushAll(root, names);

  const sum = (r: PushResult[], key: 'pushed' | 'deleted') => r.reduce((s, x) => s + x[key], 0);
  const figures = [
    { run: 'full push', pushed: sum(full.results, 'pushed'), ms: Math.round(full.ms) },
    { run: 'no-change push', pushed: sum(unchanged.results, 'pushed'), ms: Math.round(unchanged.ms) },
    {
      run: 'no-change push, file times moved (all rows re-hashed)',
      pushed: sum(rehashed.results, 'pushed'),
      ms: Math.round(rehashed.ms),
    },
    { run: '1%-changed push', pushed: sum(changed.results, 'pushed'), ms: Math.round(changed.ms) },
  ];
  for (const f of figures)
    process.stdout.write(`${JSON.stringify({ bench: 'turso-push', bots: BOTS, trades: TRADES, rows, ...f })}\n`);
  const noChangeRatio = unchanged.ms / full.ms;
  const changedShare = sum(changed.results, 'pushed') / rows;
  process.stdout.write(
    `\n| turso-push (${BOTS} bots x ${TRADES} trades, ${rows} rows) | rows pushed | time |\n| --- | --- | --- |\n` +
      figures.map((f) => `| ${f.run} | ${f.pushed} | ${(f.ms / 1000).toFixed(2)} s |`).join('\n') +
      `\n\nre-hashed no-change / full time: ${((rehashed.ms / full.ms) * 100).toFixed(2)}%` +
      `\nno-change / full time: ${(noChangeRatio * 100).toFixed(2)}% (target < 5%): ${noChangeRatio < 0.05 ? 'met' : 'MISSED'}\n` +
      `1% change pushed ${(changedShare * 100).toFixed(2)}% of rows (target <= 1.5%): ${changedShare <= 0.015 ? 'met' : 'MISSED'}\n`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
