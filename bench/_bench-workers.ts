import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Config } from '../src/config.js';
import { CLI, connectionEnv } from '../scripts/ctp-etl-child.js';

/** The environment a `ctp-etl` child process needs to work in a benchmark's schema, queues and folders. */
export function childEnv(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...connectionEnv(config),
    BOT_INSTANCES_DIR: config.BOT_INSTANCES_DIR,
    TURSO_FILE_DIR: config.TURSO_FILE_DIR,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** `processes` worker processes (`ctp-etl worker`) on one queue, resolved once each says it is ready. */
export async function startWorkers(
  config: Config,
  queue: string,
  options: { processes: number; concurrency: number; env?: Record<string, string>; nodeFlags?: string[] },
): Promise<ChildProcess[]> {
  const children = Array.from({ length: options.processes }, () =>
    spawn(
      process.execPath,
      [...(options.nodeFlags ?? []), CLI, 'worker', '--queues', queue, '--concurrency', String(options.concurrency)],
      {
        // info: the "workers ready" line is how a start is seen.
        env: childEnv(config, { ...options.env, LOG_LEVEL: 'info' }),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    ),
  );
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          let text = '';
          const onData = (chunk: Buffer): void => {
            text += chunk.toString();
            if (text.includes('workers ready')) {
              child.stderr?.off('data', onData);
              child.stderr?.resume();
              resolve();
            }
          };
          child.stderr?.on('data', onData);
          child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${text}`)));
        }),
    ),
  );
  return children;
}

export async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          // A worker that has not ended its jobs within a minute of SIGTERM is killed: a benchmark must end.
          const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
          child.once('exit', () => (clearTimeout(kill), resolve()));
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Samples each child's RSS (MB) every 500 ms until stopped. */
export function sampleRss(children: ChildProcess[]): { stop: () => number[][] } {
  const samples: number[][] = children.map(() => []);
  const timer = setInterval(() => {
    children.forEach((child, i) => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        samples[i]!.push(Math.round(kb / 1024));
      } catch {
        // the process is gone
      }
    });
  }, 500);
  return { stop: () => (clearInterval(timer), samples) };
}

/** CPU time (user + system, ms) a process has used so far, from /proc; 0 once it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (in parentheses, may hold spaces): utime is the 14th field, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ is 100
  } catch {
    return 0;
  }
}

/**
 * The pids of the PostgreSQL backends serving these processes' connections: each process's TCP
 * sockets to port 5432, matched by local port with pg_stat_activity's client_port. What a job
 * costs PostgreSQL, measured apart from what other work on a shared machine costs it.
 */
export async function pgBackendsOf(
  pids: readonly number[],
  pg: { query(sql: string): Promise<{ rows: { pid: number; client_port: number | null }[] }> },
): Promise<number[]> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the process is gone
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9]!)) continue;
      const remotePort = parseInt(cols[2]!.split(':')[1]!, 16);
      if (remotePort === 5432) ports.add(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  const { rows } = await pg.query('SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL');
  return rows.filter((r) => r.client_port !== null && ports.has(r.client_port)).map((r) => r.pid);
}
