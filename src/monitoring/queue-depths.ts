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
}

/** Job counts per queue and state, straight from Redis. */
export async function queueDepths(queues: Queues): Promise<QueueDepth[]> {
  return Promise.all(
    [...queues].map(async ([name, queue]) => {
      const raw = await queue.getJobCounts(...QUEUE_STATES);
      const counts = Object.fromEntries(QUEUE_STATES.map((state) => [state, raw[state] ?? 0])) as Record<
        QueueState,
        number
      >;
      return { queue: name, counts };
    }),
  );
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
