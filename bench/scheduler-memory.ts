import '../bin/v8-defaults.js';
import { linkSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { closeQueues } from '../src/queues/queues.js';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { benchEnv, benchScheduler, machine, SCALE } from './_bench-env.js';
import { heapGrowth } from './_heap-diff.js';

/**
 * The scheduler's memory over many passes of 10,000 bots (BENCH_PASSES, default 50): RSS and
 * heap after each pass as the process has them (BENCH_GC=1: after a full GC), and, with
 * BENCH_HEAP_SNAPSHOTS=1, heap snapshots after the warm-up and at the end, compared by
 * constructor (writing a snapshot itself raises RSS by about 100 MB: judge RSS without them).
 * The V8 defaults of bin/ctp-etl.js apply, as in `ctp-etl scheduler` (`node
 * --heap-growing-percent=0 --import tsx bench/scheduler-memory.ts` measures without them).
 */
const BOTS = Math.max(100, Math.round(10_000 * SCALE));
const PASSES = Number(process.env.BENCH_PASSES ?? '50');
const WARMUP = Math.min(10, Math.floor(PASSES / 2));
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const env = await benchEnv('scheduler_memory', { SYNC_INTERVAL: '5m', TURSO_PUSH_INTERVAL: '15m' });
const shared = path.join(env.dir, 'shared.sqlite');
createBotDatabase(shared, { trades: 10, ordersPerTrade: 1, seed: 1 });
for (let i = 0; i < BOTS; i++) {
  const file = botDbPath(env.config.BOT_INSTANCES_DIR, `bot-${String(i).padStart(5, '0')}`);
  mkdirSync(path.dirname(file), { recursive: true });
  linkSync(shared, file);
}
const { scheduler, queues, redis } = benchScheduler(env);

const samples: Array<{ pass: number; ms: number; rssMb: number; heapMb: number }> = [];
const snapshots: string[] = [];
for (let pass = 1; pass <= PASSES; pass++) {
  const started = performance.now();
  await scheduler.runOnce();
  const ms = Math.round(performance.now() - started);
  if (process.env.BENCH_GC === '1') gc();
  const { rss, heapUsed } = process.memoryUsage();
  samples.push({ pass, ms, rssMb: Math.round(rss / 2 ** 20), heapMb: Math.round((heapUsed / 2 ** 20) * 10) / 10 });
  if (process.env.BENCH_HEAP_SNAPSHOTS === '1' && (pass === WARMUP || pass === PASSES)) {
    snapshots.push(writeHeapSnapshot(path.join(env.dir, `scheduler-pass-${pass}.heapsnapshot`)));
  }
}
await scheduler.stop();
for (const queue of queues.values()) await queue.obliterate({ force: true });
await closeQueues(queues);
redis.disconnect();

const after = samples.slice(WARMUP);
const range = (key: 'rssMb' | 'heapMb') => {
  const values = after.map((s) => s[key]);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return `${min}-${max} MB (${(((max - min) / min) * 100).toFixed(1)}%)`;
};
const lines = [
  `scheduler memory: ${BOTS} bots, ${PASSES} passes; ${machine()}`,
  `| pass | ${samples.map((s) => s.pass).join(' | ')} |`,
  `| ms | ${samples.map((s) => s.ms).join(' | ')} |`,
  `| RSS MB | ${samples.map((s) => s.rssMb).join(' | ')} |`,
  `| heap MB | ${samples.map((s) => s.heapMb).join(' | ')} |`,
  `after warm-up (passes ${WARMUP + 1}-${PASSES}): RSS ${range('rssMb')}, heap ${range('heapMb')}`,
];
if (snapshots.length === 2) lines.push('heap growth, warm-up to end:', ...heapGrowth(snapshots[0]!, snapshots[1]!));
process.stdout.write(`${lines.join('\n')}\n`);
await env.close();
