import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { botHosts, hostOfBot } from '../bots/bot-registry.js';
import { botConflicts, conflictMessage, discoveryFreshnessSeconds } from '../bots/host-claims.js';
import type { JobName } from '../jobs/contracts.js';
import { JOB_NAMES } from '../jobs/contracts.js';

/**
 * Jobs that read or write a bot's folder. A WAL SQLite file cannot be shared over a network
 * file system, so with workers on several hosts these run on the host that holds the folder:
 * each host has queues of its own for them (`bot-sync-<host>`), served only by its workers.
 */
export const HOST_ROUTED: readonly JobName[] = ['bot-sync', 'turso-push', 'turso-provision'];

/** The queue a job of `job` goes to for a bot on `host` (no host: the single-host queue). */
export function queueNameFor(job: JobName, host: string | undefined): string {
  return host !== undefined && HOST_ROUTED.includes(job) ? `${job}-${host}` : job;
}

/** The bot a host-routed payload is about. */
function botOfPayload(job: JobName, payload: unknown): string | undefined {
  if (!HOST_ROUTED.includes(job) || typeof payload !== 'object' || payload === null) return undefined;
  const record = payload as Record<string, unknown>;
  // turso-provision's payload names the bot `instance`; turso-push's did, in jobs queued before.
  const bot = record.bot ?? record.instance;
  return typeof bot === 'string' ? bot : undefined;
}

/**
 * Where an operator's job goes: with BOT_DISCOVERY=hosts, a bot's jobs to the queue of the host
 * the bots table says holds it (refused, naming the bot, when no host has found it, or naming
 * both hosts and folders when two hosts claim it); otherwise
 * the job's own queue.
 */
export async function routeJob(
  config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL'>,
  pg: PgPool,
  job: JobName,
  payload: unknown,
): Promise<string> {
  const bot = botOfPayload(job, payload);
  if (config.BOT_DISCOVERY !== 'hosts' || bot === undefined) return job;
  const [conflict] = await botConflicts(pg, discoveryFreshnessSeconds(config), bot);
  if (conflict !== undefined) throw new Error(conflictMessage(conflict));
  const host = await hostOfBot(pg, bot);
  if (host === undefined) {
    throw new Error(
      `bot ${bot} is held by no host: no worker with WORKER_HOST has found it in its BOT_INSTANCES_DIR (is the worker of its host running?)`,
    );
  }
  return queueNameFor(job, host);
}

/** Every queue an operator's view (board, status, metrics) shows: the job queues and, with hosts, each host's. */
export async function allQueueNames(
  config: Pick<Config, 'BOT_DISCOVERY'>,
  pg: PgPool,
  names: readonly JobName[] = JOB_NAMES,
): Promise<string[]> {
  if (config.BOT_DISCOVERY !== 'hosts') return [...names];
  const hosts = await botHosts(pg);
  const routed = names.filter((name) => HOST_ROUTED.includes(name));
  return [...names, ...hosts.flatMap((host) => routed.map((name) => queueNameFor(name, host)))];
}

/** The job a queue runs: its own name, or the job of a host's queue (`bot-sync-<host>` runs bot-sync). */
export function jobOfQueue(queueName: string): JobName | undefined {
  const own = JOB_NAMES.find((name) => name === queueName);
  return own ?? HOST_ROUTED.find((job) => queueName.startsWith(`${job}-`));
}
