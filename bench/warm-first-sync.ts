import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { syncBot } from '../src/bot-sync/sync-bot.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { CLI, connectionEnv } from '../scripts/ctp-etl-child.js';
import { benchEnv, machine, SCALE, timed, type BenchEnv } from './_bench-env.js';

/**
 * A big bot's first sync in a long-running process against the same sync in a fresh one. In
 * each of two schemas of their own: a 1,000-trade bot is synced, then a 60,000-trade bot's
 * first sync (the same generated data in both). Warm: both in this process, on its pool's
 * connections, as a worker runs one job after the other. Fresh: each by `ctp-etl run bot-sync`
 * in a process of its own. A connection that kept what it planned while the tables were small
 * must not make the warm one slower (target: within 1.5x of the fresh one).
 */
const SMALL_TRADES = 1000;
const BIG_TRADES = Math.max(1000, Math.round(60_000 * SCALE));

function createBots(env: BenchEnv): { orders: number } {
  createBotDatabase(botDbPath(env.config.BOT_INSTANCES_DIR, 'small-bot'), { trades: SMALL_TRADES, seed: 1 });
  const big = createBotDatabase(botDbPath(env.config.BOT_INSTANCES_DIR, 'big-bot'), { trades: BIG_TRADES, seed: 2 });
  return { orders: big.orders };
}

/** `ctp-etl run bot-sync --bot <bot>` in a process of its own: the rows it wrote, the sync's own time (no start-up). */
async function runInFreshProcess(env: BenchEnv, bot: string): Promise<{ inserted: number; ms: number }> {
  const child = spawn(process.execPath, [CLI, 'run', 'bot-sync', '--bot', bot], {
    env: { ...connectionEnv(env.config), BOT_INSTANCES_DIR: env.config.BOT_INSTANCES_DIR, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = output.trim().split('\n').at(-1) ?? '';
  const result = JSON.parse(line) as { result?: { inserted: number; ms: number } };
  if (code !== 0 || result.result === undefined) throw new Error(`${bot}: the sync failed (exit ${code}): ${line}`);
  return result.result;
}

const warmEnv = await benchEnv('warm_first_sync');
const freshEnv = await benchEnv('fresh_first_sync');
const { orders } = createBots(warmEnv);
createBots(freshEnv);

const ctx = contextForLocalRun(warmEnv.runtime);
const warmSmall = await timed(() => syncBot(ctx, 'small-bot'));
const warm = await timed(() => syncBot(ctx, 'big-bot'));
const freshSmall = await timed(() => runInFreshProcess(freshEnv, 'small-bot'));
const fresh = await timed(() => runInFreshProcess(freshEnv, 'big-bot'));
// The process's own start and stop: the same command on a bot already synced and unchanged (nothing read).
const startUp = await timed(() => runInFreshProcess(freshEnv, 'small-bot'));
const freshSync = fresh.ms - startUp.ms;
if (warm.value.inserted !== fresh.value.inserted) {
  throw new Error(`the two first syncs wrote ${warm.value.inserted} and ${fresh.value.inserted} rows`);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
process.stdout.write(
  [
    `first sync of a ${BIG_TRADES}-trade bot (${BIG_TRADES + orders} rows) after a ${SMALL_TRADES}-trade bot's; ${machine()}`,
    '| process | 1,000-trade bot | then the big bot (COMMIT included) |',
    '| --- | --- | --- |',
    `| warm: one process, both syncs on its pool, as a worker | ${seconds(warmSmall.ms)} | ${seconds(warm.ms)} |`,
    `| fresh: \`ctp-etl run bot-sync\`, a process each, wall time | ${seconds(freshSmall.ms)} | ${seconds(fresh.ms)} |`,
    `| fresh, less the process's start and stop (${seconds(startUp.ms)}: the same command, nothing to read) | | ${seconds(freshSync)} |`,
    `warm / fresh for the big bot: ${(warm.ms / freshSync).toFixed(2)}x without start-up, ${(warm.ms / fresh.ms).toFixed(2)}x with it (target at most 1.5x); load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    '',
  ].join('\n'),
);
await warmEnv.close();
await freshEnv.close();
