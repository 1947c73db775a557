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
