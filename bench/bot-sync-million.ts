import { syncBot } from '../src/jobs/bot-sync/sync-bot.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../test/helpers/freqtrade-db.js';
import { benchEnv, machine, peakRssMb, SCALE, timed } from './_bench-env.js';

/** One generated bot of 1,000,000 trades (with their orders): time to generate it, then wall time and peak RSS of its first sync. */
const TRADES = Math.max(1000, Math.round(1_000_000 * SCALE));
const env = await benchEnv('botsync_million');
const generateStarted = performance.now();
const made = createBotDatabase(botDbPath(env.config.BOT_INSTANCES_DIR, 'big-bot'), { trades: TRADES, seed: 5 });
const generateMs = performance.now() - generateStarted;
const rssBefore = peakRssMb();
const run = await timed(() => syncBot(contextForLocalRun(env.runtime), 'big-bot'));
process.stdout.write(
  [
    `bot-sync of one bot: ${made.trades} trades + ${made.orders} orders; ${machine()}`,
    `| generate the bot database (every table, WAL) | ${(generateMs / 1000).toFixed(1)} s | ${Object.values(made.rows).reduce((a, b) => a + b, 0)} rows |`,
    `| first sync | ${(run.ms / 1000).toFixed(1)} s | ${run.value.inserted} rows | ${Math.round(run.value.inserted / (run.ms / 1000))} rows/s | peak RSS ${peakRssMb()} MB (${rssBefore} MB before the sync, after generating the file) |`,
    '',
  ].join('\n'),
);
await env.close();
