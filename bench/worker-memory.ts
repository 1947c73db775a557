import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRedis } from '../src/connections/redis.js';
import { closeQueues, createQueues } from '../src/queues/queues.js';
import { benchEnv, machine, SCALE } from './_bench-env.js';
import { childEnv } from './_bench-workers.js';
import { CLI } from '../scripts/ctp-etl-child.js';

/**
 * One worker process's RSS over 100,000 echo jobs (BENCH_SCALE scales it): sampled as every
 * tenth of the jobs completes. Jobs are added in batches as the queue drains, as a scheduler
 * would, so Redis holds at most a few thousand waiting jobs. BENCH_WORKER_NODE_FLAGS: node flags for
 * the worker (`--heap-growing-percent=0` measures it without the default bin/ctp-etl.js sets).
 */
const JOBS = Math.max(1000, Math.round(100_000 * SCALE));
const BATCH = 1000;

const env = await benchEnv('worker_memory', { KEEP_COMPLETED_COUNT: '1000' });
const redis = createRedis(env.config, 'worker');
const queue = createQueues(env.config, redis, ['echo']).get('echo')!;
const nodeFlags = (process.env.BENCH_WORKER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeFlags, CLI, 'worker', '--queues', 'echo', '--concurrency', '8'], {
  env: childEnv(env.config, { KEEP_COMPLETED_COUNT: '1000' }),
  stdio: ['ignore', 'ignore', 'inherit'],
});
const rssMb = (): number => {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
};

const started = performance.now();
let added = 0;
const samples: Array<{ done: number; rss: number }> = [];
let nextSample = JOBS / 10;
for (;;) {
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed');
  const pending = (counts.waiting ?? 0) + (counts.active ?? 0);
  const done = added - pending;
  if (done >= nextSample) {
    samples.push({ done: Math.round(nextSample), rss: rssMb() });
    nextSample += JOBS / 10;
  }
  if (done >= JOBS) break;
  if (pending < 2 * BATCH && added < JOBS) {
    const size = Math.min(BATCH, JOBS - added);
    await queue.addBulk(Array.from({ length: size }, (_, i) => ({ name: 'echo', data: { message: `m${added + i}` } })));
    added += size;
  } else {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const seconds = (performance.now() - started) / 1000;
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
await queue.obliterate({ force: true });
await closeQueues(new Map([['echo', queue]]));
redis.disconnect();
const after = samples.slice(2).map((s) => s.rss);
const min = Math.min(...after);
const max = Math.max(...after);
process.stdout.write(
  [
    `worker memory: ${JOBS} echo jobs, 1 worker process x concurrency 8, node flags: ${nodeFlags.join(' ') || 'none'}; ${machine()}`,
    `| jobs done | ${samples.map((s) => s.done).join(' | ')} |`,
    `| worker RSS MB | ${samples.map((s) => s.rss).join(' | ')} |`,
    `after warm-up (from ${samples[2]?.done} jobs): RSS ${min}-${max} MB (${(((max - min) / min) * 100).toFixed(1)}%); ${Math.round(JOBS / seconds)} jobs/s`,
    '',
  ].join('\n'),
);
await env.close();
