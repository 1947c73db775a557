import { Queue } from 'bullmq';
import type { RedisConnection } from '../connections/redis.js';
import type { Config } from '../config.js';
import { JOB_NAMES, type JobName } from '../jobs/contracts.js';
import type { Closers } from '../lifecycle/closers.js';
import { bullmqTelemetry } from '../telemetry/tracing.js';
import { unobservedErrors, type ErrorSource } from '../connections/connection-errors.js';
import { defaultJobOptions } from './job-options.js';

/** Queues by name: a job's own (`bot-sync`), or a host's for a host-routed job (`bot-sync-<host>`). */
export type Queues = ReadonlyMap<string, Queue>;

/** One BullMQ queue per job type, on a producer connection (fails fast while Redis is away). */
export function createQueues(
  config: Config,
  connection: RedisConnection,
  names: readonly string[] = JOB_NAMES,
  /** The queues' `error` events (connection errors; they also surface on the calls): the runtime counts and logs them. */
  onError: (error: unknown) => void = unobservedErrors('queue'),
): Queues {
  const queues = new Map<string, Queue>();
  for (const name of names) {
    const queue = new Queue(name, {
      connection,
      prefix: config.QUEUE_PREFIX,
      defaultJobOptions: defaultJobOptions(config),
      ...telemetryOption(),
    });
    queue.on('error', onError);
    queues.set(name, queue);
  }
  return queues;
}

/**
 * The queues of a role or command: their `error` events counted and logged by the runtime, and
 * closed with it (registered now: what starts after them, and uses them, closes first).
 */
export function openQueues(
  runtime: {
    config: Config;
    errors: { listener(source: ErrorSource): (error: unknown) => void };
    closers: Pick<Closers, 'add'>;
  },
  connection: RedisConnection,
  names: readonly string[],
  closerName: string,
): Queues {
  const queues = createQueues(runtime.config, connection, names, runtime.errors.listener('queue'));
  runtime.closers.add(closerName, () => closeQueues(queues));
  return queues;
}

/** BullMQ's telemetry when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT), for queues and workers alike. */
export function telemetryOption(): { telemetry?: NonNullable<ReturnType<typeof bullmqTelemetry>> } {
  const telemetry = bullmqTelemetry();
  return telemetry ? { telemetry } : {};
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all([...queues.values()].map((queue) => queue.close()));
}

/** Parses `--queues a,b`, naming any unknown queue. */
export function parseQueueList(text: string | undefined): JobName[] {
  if (text === undefined || text.trim() === '') return [...JOB_NAMES];
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !(JOB_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`Unknown queue ${unknown.map((n) => `"${n}"`).join(', ')}; known queues: ${JOB_NAMES.join(', ')}`);
  }
  return names as JobName[];
}
