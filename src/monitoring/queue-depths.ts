import type { Queue } from 'bullmq';
import type { Queues } from '../queues/queues.js';

const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface QueueDepth {
  queue: string;
  counts: Record<QueueState, number>;
  /**
   * How long the oldest waiting job has waited since it was due (added, or its delay ended): the
   * backlog in seconds, about one round through it when workers cannot keep up. Null: none waits.
   */
  oldestWaitingSeconds: number | null;
}

/** Job counts per queue and state, and the age of the oldest waiting job, straight from Redis. */
export async function queueDepths(queues: Queues): Promise<QueueDepth[]> {
  return Promise.all(
    [...queues].map(async ([name, queue]) => {
      const [raw, oldestWaitingSeconds] = await Promise.all([
        queue.getJobCounts(...QUEUE_STATES),
        oldestWaitingAge(queue),
      ]);
      const counts = Object.fromEntries(QUEUE_STATES.map((state) => [state, raw[state] ?? 0])) as Record<
        QueueState,
        number
      >;
      return { queue: name, counts, oldestWaitingSeconds };
    }),
  );
}

/** Workers take from the far end of the wait list: its oldest job is the next one to run. */
async function oldestWaitingAge(queue: Queue): Promise<number | null> {
  const [oldest] = await queue.getJobs(['waiting'], 0, 0, true);
  if (oldest === undefined) return null;
  const dueAt = oldest.timestamp + (oldest.delay > 0 ? oldest.delay : 0);
  return Math.max(0, Math.round((Date.now() - dueAt) / 100) / 10);
}

/**
 * Workers listening on each queue, as BullMQ counts them (the Redis clients named after the queue;
 * on a cluster, the node that has the most). A queue with jobs and none is one no host serves.
 */
export async function queueWorkers(queues: Queues): Promise<Array<{ queue: string; workers: number }>> {
  return Promise.all(
    [...queues].map(async ([name, queue]) => ({ queue: name, workers: await queue.getWorkersCount() })),
  );
}
