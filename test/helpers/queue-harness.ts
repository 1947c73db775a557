import { QueueEvents } from 'bullmq';
import type { JobName } from '../../src/jobs/contracts.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { WorkerPool } from '../../src/workers/worker-pool.js';

export interface QueueHarness {
  queues: Queues;
  events: QueueEvents;
  pool: WorkerPool;
  stop(): Promise<void>;
}

/**
 * Producers, events and a started worker pool on a test's queue, through real Redis. The
 * worker may run on another runtime than the producer (a worker that reaches PostgreSQL through
 * a proxy, say). `open`: the queues the producer opens, when more than the worker's (a board
 * shows them all).
 */
export async function startQueueHarness(
  producer: Runtime,
  queue: JobName,
  options: { worker?: Runtime; concurrency?: number; open?: readonly string[] } = {},
): Promise<QueueHarness> {
  const worker = options.worker ?? producer;
  const queues = createQueues(producer.config, producer.redis('producer'), options.open ?? [queue]);
  const events = new QueueEvents(queue, { connection: producer.redis('worker'), prefix: producer.config.QUEUE_PREFIX });
  await events.waitUntilReady();
  const pool = new WorkerPool(worker, worker.redis('worker'), {
    queues: [queue],
    concurrency: options.concurrency ?? 2,
  });
  pool.start();
  await pool.ready();
  return {
    queues,
    events,
    pool,
    async stop() {
      await pool.stop();
      await events.close();
      await closeQueues(queues);
    },
  };
}
