import type { Queues } from '../queues/queues.js';

/**
 * Makes `user-reconcile` repeat every `everyMs`. A BullMQ Job Scheduler with a fixed id, so
 * calling it again (every scheduler start, several replicas) updates the one schedule.
 */
export async function scheduleUserReconcile(queues: Queues, everyMs: number): Promise<void> {
  const queue = queues.get('user-reconcile');
  if (!queue) throw new Error('No queue for job user-reconcile in this process');
  await queue.upsertJobScheduler('user-reconcile', { every: everyMs }, { name: 'user-reconcile', data: {} });
}
