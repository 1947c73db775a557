import Database from 'better-sqlite3';
import { syncBot, type BotSyncResult } from '../src/jobs/bot-sync/sync-bot.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { botDbPath, createFreqtradeDb } from '../test/helpers/freqtrade-db.js';
import { benchEnv, machine, peakRssMb, SCALE, timed } from './_bench-env.js';

/**
 * 20 bots x 10,000 trades (2 orders each): a first full sync, a sync of unchanged bots, a forced
 * full compare of unchanged bots, and a sync after 1% of each bot's trades changed.
 */
const BOTS = 20;
const TRADES = Math.max(100, Math.round(10_000 * SCALE));

const env = await benchEnv('botsync');
const ctx = contextForLocalRun(env.runtime);
const bots = Array.from({ length: BOTS }, (_, i) => `bot-${String(i).padStart(4, '0')}`);
for (const [i, bot] of bots.entries()) createFreqtradeDb(botDbPath(env.config.BOT_INSTANCES_DIR, bot), { trades: TRADES, ordersPerTrade: 2, seed: i + 1 });

/** Two bots at a time, as two workers (or one with WORKER_CONCURRENCY=2) would run them. */
async function mapTwoAtATime<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all([lane(), lane()]);
  return results;
}

async function syncAll(options: { full?: boolean } = {}): Promise<{ ms: number; written: number; results: BotSyncResult[] }> {
  const { ms, value } = await timed(() => mapTwoAtATime(bots, (bot) => syncBot(ctx, bot, options)));
  return { ms, written: value.reduce((n, r) => n + r.inserted + r.updated + r.deleted, 0), results: value };
}

const full = await syncAll();
const unchanged = await syncAll();
const compared = await syncAll({ full: true });
for (const bot of bots) {
  const db = new Database(botDbPath(env.config.BOT_INSTANCES_DIR, bot));
  db.prepare('UPDATE trades SET close_profit_abs = coalesce(close_profit_abs, 0) + 1 WHERE id % 100 = 0').run();
  db.close();
}
const onePercent = await syncAll();

const rows = BOTS * TRADES * 3;
const line = (name: string, r: { ms: number; written: number }): string =>
  `| ${name} | ${r.ms} | ${r.written} | ${Math.round(r.written / (r.ms / 1000))} |`;
process.stdout.write(
  [
    `bot-sync: ${BOTS} bots x ${TRADES} trades + ${TRADES * 2} orders each (${rows} source rows); ${machine()}`,
    '| run | ms | rows written | rows written/s |',
    '| --- | --- | --- | --- |',
    line('first sync (all rows)', full),
    line('nothing changed (fingerprint)', unchanged),
    line('nothing changed, full compare', compared),
    line('1% of trades changed', onePercent),
    `no-change cost: ${((unchanged.ms / full.ms) * 100).toFixed(1)}% of a full sync (full compare: ${((compared.ms / full.ms) * 100).toFixed(1)}%); ` +
      `1% change wrote ${onePercent.written} rows (${((onePercent.written / rows) * 100).toFixed(2)}% of rows); peak RSS ${peakRssMb()} MB`,
    '',
  ].join('\n'),
);
await env.close();
