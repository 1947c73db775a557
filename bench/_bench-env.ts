import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../src/config.js';
import { createPgPool } from '../src/connections/postgres.js';
import { createRedis, type RedisConnection } from '../src/connections/redis.js';
import { pushBot, type PushResult } from '../src/turso/push-bot.js';
import { migrate } from '../src/migrate/migrate.js';
import { Scheduler } from '../src/producers/scheduler/scheduler.js';
import { createQueues, type Queues } from '../src/queues/queues.js';
import { Runtime } from '../src/runtime/runtime.js';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';

/** Size multiplier for a quick run (BENCH_SCALE=0.1); 1 is the size the targets are stated for. */
export const SCALE = Number(process.env.BENCH_SCALE ?? '1');

export interface BenchEnv {
  config: Config;
  runtime: Runtime;
  dir: string;
  close(): Promise<void>;
}

/** A schema, queue prefix and temp folder of the benchmark's own, removed at the end. */
export async function benchEnv(label: string, overrides: Record<string, string> = {}): Promise<BenchEnv> {
  const name = `bench_${label}_${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), `ctp-etl-${name}-`));
  const config = loadConfig({
    ...process.env,
    PG_SCHEMA: name,
    QUEUE_PREFIX: name,
    LOG_LEVEL: 'warn',
    BOT_INSTANCES_DIR: path.join(dir, 'bot-instances'),
    TURSO_FILE_DIR: path.join(dir, 'targets'),
    ...overrides,
  });
  const pool = createPgPool(config);
  await migrate(pool, config.PG_SCHEMA);
  await pool.end();
  const runtime = new Runtime(config);
  return {
    config,
    runtime,
    dir,
    async close() {
      await runtime.pg.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A scheduler as `ctp-etl scheduler` has it, on a Redis connection and queues of its own. */
export function benchScheduler(
  env: BenchEnv,
  names?: readonly string[],
): { scheduler: Scheduler; queues: Queues; redis: RedisConnection } {
  const redis = createRedis(env.config, 'worker');
  const onQueueError = env.runtime.errors.listener('queue');
  const queues = createQueues(env.config, redis, names, onQueueError);
  const { config, runtime } = env;
  const scheduler = new Scheduler({ config, pg: runtime.pg, redis, queues, logger: runtime.logger, onQueueError });
  return { scheduler, queues, redis };
}

/** One bot's turso-push in this process, quiet (no job log, no progress). */
export function pushOneBot(
  env: BenchEnv,
  instance: string,
  signal = new AbortController().signal,
): Promise<PushResult> {
  return pushBot({
    config: env.config,
    pg: env.runtime.pg,
    instance,
    signal,
    log: async () => undefined,
    progress: async () => undefined,
  });
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: Math.round(performance.now() - started), value };
}

/**
 * CPU time (ms) the PostgreSQL backends of a pool's connections have used, read from /proc (the
 * benchmarks run PostgreSQL on the same machine): on a shared machine, CPU time says what a run
 * cost where wall time also says how busy the machine was. Call before the pool connects.
 */
export function trackPgBackendCpu(pool: {
  on(event: 'connect', listener: (client: object) => void): unknown;
}): () => number {
  const pids = new Set<number>();
  pool.on('connect', (client) => {
    const pid = (client as { processID?: number | null }).processID;
    if (typeof pid === 'number') pids.add(pid);
  });
  return () => {
    let ticks = 0;
    for (const pid of pids) ticks += cpuTicks(`/proc/${pid}/stat`);
    return ticks * (1000 / CLOCK_TICKS);
  };
}

/** This process's CPU time (user + system), ms. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's times. */
const CLOCK_TICKS = 100;

function cpuTicks(statFile: string): number {
  let stat: string;
  try {
    stat = readFileSync(statFile, 'utf8');
  } catch {
    return 0; // the backend has gone (its connection closed): its time is no longer counted
  }
  // Fields after the command name (which may hold spaces, in parentheses): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * W1: `count` generated bots (bot-0000, ...) of `trades` trades each with their orders, newest
 * FreqTrade schema, in the environment's bot folder; with how many rows their trades and orders hold.
 */
export function createW1Bots(config: Config, count: number, trades: number): { bots: string[]; sourceRows: number } {
  const bots = Array.from({ length: count }, (_, i) => `bot-${String(i).padStart(4, '0')}`);
  let sourceRows = 0;
  for (const [i, bot] of bots.entries()) {
    const made = createBotDatabase(botDbPath(config.BOT_INSTANCES_DIR, bot), { trades, seed: i + 1 });
    sourceRows += made.trades + made.orders;
  }
  return { bots, sourceRows };
}
