import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { benchEnv, machine, SCALE } from './_bench-env.js';
import { CLI } from '../scripts/ctp-etl-child.js';

/**
 * One generated bot of 1,000,000 trades (with their orders), then its first sync as an operator
 * runs it: `ctp-etl run bot-sync --bot big-bot` in a process of its own with Node's defaults (no
 * flags, no NODE_OPTIONS), so the peak RSS is the sync's alone, not the generator's. The peak is
 * the child's VmHWM (the kernel's high-water mark of its resident memory, native memory
 * included: SQLite's page cache, socket buffers), read from /proc while it runs.
 */
const TRADES = Math.max(1000, Math.round(1_000_000 * SCALE));
const env = await benchEnv('botsync_million');
const generateStarted = performance.now();
const made = createBotDatabase(botDbPath(env.config.BOT_INSTANCES_DIR, 'big-bot'), { trades: TRADES, seed: 5 });
const generateMs = performance.now() - generateStarted;

const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
const started = performance.now();
const child = spawn(process.execPath, [CLI, 'run', 'bot-sync', '--bot', 'big-bot'], {
  env: {
    ...inherited,
    DATABASE_URL: env.config.DATABASE_URL,
    PG_SCHEMA: env.config.PG_SCHEMA,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    BOT_INSTANCES_DIR: env.config.BOT_INSTANCES_DIR,
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
const status = { peakKb: 0, cpuTicks: 0 };
const poll = setInterval(() => {
  try {
    const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    status.peakKb = Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? status.peakKb);
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    status.cpuTicks = Number(fields[11]) + Number(fields[12]);
  } catch {
    // the child has just exited: the last reading stands
  }
}, 50);
const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
clearInterval(poll);
const ms = performance.now() - started;
const line = output.trim().split('\n').at(-1) ?? '';
const result = JSON.parse(line) as { result?: { inserted: number }; error?: string };
if (code !== 0 || result.result === undefined) throw new Error(`the sync failed (exit ${code}): ${line}`);
const rows = result.result.inserted;
process.stdout.write(
  [
    `bot-sync of one bot: ${made.trades} trades + ${made.orders} orders; ${machine()}`,
    `| generate the bot database (every table, WAL) | ${(generateMs / 1000).toFixed(1)} s | ${Object.values(made.rows).reduce((a, b) => a + b, 0)} rows |`,
    `| first sync (\`ctp-etl run bot-sync\`, its own process, Node's defaults) | ${(ms / 1000).toFixed(1)} s | ${rows} rows | ${Math.round(rows / (ms / 1000))} rows/s | ` +
      `peak RSS ${Math.round(status.peakKb / 1024)} MB | CPU ${(status.cpuTicks / 100).toFixed(1)} s |`,
    '',
  ].join('\n'),
);
await env.close();
