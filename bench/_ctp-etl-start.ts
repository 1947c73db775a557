import { spawn, type ChildProcess } from 'node:child_process';
import type { Queue } from 'bullmq';
import type { Config } from '../src/config.js';
import { CLI } from '../scripts/ctp-etl-child.js';
import { childEnv } from './_bench-workers.js';

/** `ctp-etl start` (scheduler, watcher, workers, board) as a child process of a benchmark. */
export interface StartedApp {
  child: ChildProcess;
  /** Its log so far (JSON lines, info and above; the first MB). */
  log(): string;
  /** SIGTERM, resolved once it has exited. */
  stop(): Promise<void>;
}

/** Starts `ctp-etl start` with the shipped defaults (plus `extra`), resolved once its watcher is ready. */
export async function startCtpEtl(config: Config, extra: Record<string, string> = {}): Promise<StartedApp> {
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0'], {
    env: childEnv(config, { BOARD_AUTH: 'false', LOG_LEVEL: 'info', ...extra }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      if (log.length < 1_000_000) log += chunk.toString();
      if (log.includes('"msg":"watcher ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`ctp-etl start exited ${code}:\n${log.slice(-4000)}`)));
  });
  return {
    child,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Whether no job waits or runs in these queues (delayed jobs are the schedules' next runs, and retries' backoff). */
export async function queuesIdle(queues: readonly Queue[]): Promise<boolean> {
  for (const queue of queues) {
    const counts = await queue.getJobCounts('waiting', 'active', 'prioritized');
    if (Object.values(counts).some((n) => n > 0)) return false;
  }
  return true;
}

/** Resolves once the queues are idle; throws after `timeoutMs`, naming `what` was awaited. */
export async function settleQueues(queues: readonly Queue[], what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await queuesIdle(queues))) {
    if (Date.now() > deadline) throw new Error(`${what}: queues still busy after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
