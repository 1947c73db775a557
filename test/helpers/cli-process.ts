import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import type { Config } from '../../src/config.js';
import { CLI, connectionEnv } from '../../scripts/ctp-etl-child.js';

/** A test's CLI process: its own schema and queues, with the tests' short retry and lock timings. */
export function cliEnv(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...connectionEnv(config),
    LOG_LEVEL: 'info',
    BOARD_AUTH: 'false',
    JOB_BACKOFF: '100ms',
    JOB_LOCK_DURATION: '5s',
    JOB_STALLED_INTERVAL: '5s',
    ...extra,
  };
}

export interface CliProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the output (stdout + stderr) matches, rejects on exit or after the deadline. */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `ctp-etl <args>` as a real process (`options`: e.g. another uid, for a permission test). */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: Pick<SpawnOptions, 'uid' | 'gid'> = {},
): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let text = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    output: () => text,
    exited,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`Timed out waiting for ${pattern} in:\n${text}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(({ code }) => {
          if (!pattern.test(text)) {
            cleanup();
            reject(new Error(`ctp-etl exited (${code}) before printing ${pattern}:\n${text}`));
          }
        });
        check();
      });
    },
  };
}

/** Runs `ctp-etl <args>` to the end. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const process = startCli(args, env);
  const { code } = await process.exited;
  return { code, output: process.output() };
}

/** The port a process logged as listening, in the JSON line whose `msg` is `msg` (fields in any order). */
export async function listeningPort(process: CliProcess, msg: string, timeoutMs?: number): Promise<number> {
  const pattern = new RegExp(`^(?=.*"msg":"${msg}")(?=.*"port":(\\d+)).*$`, 'm');
  await process.waitForOutput(pattern, timeoutMs);
  return Number(pattern.exec(process.output())?.[1]);
}

/** The process's exit, or a failure naming what it printed if it still runs after `ms` (it is then killed). */
export async function exitedWithin(cli: CliProcess, ms: number): Promise<{ code: number | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const outcome = await Promise.race([cli.exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    cli.child.kill('SIGKILL');
    throw new Error(`ctp-etl still running after ${ms} ms:\n${cli.output()}`);
  }
  return outcome;
}
