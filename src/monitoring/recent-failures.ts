import type { Queues } from '../queues/queues.js';

export interface RecentFailure {
  queue: string;
  jobId: string | undefined;
  name: string;
  failedReason: string;
  failedAt: Date | null;
  attempts: number;
}

/** The newest failed jobs across every queue, newest first (BullMQ keeps them until KEEP_FAILED_AGE). */
export async function recentFailures(queues: Queues, limit: number): Promise<RecentFailure[]> {
  if (limit <= 0) return [];
  const perQueue = await Promise.all(
    [...queues].map(async ([queueName, queue]) => {
      const jobs = await queue.getFailed(0, limit - 1);
      return jobs.map((job) => ({
        queue: queueName,
        jobId: job.id,
        name: job.name,
        failedReason: job.failedReason ?? '',
        failedAt: job.finishedOn === undefined ? null : new Date(job.finishedOn),
        attempts: job.attemptsMade,
      }));
    }),
  );
  return perQueue
    .flat()
    .sort((a, b) => (b.failedAt?.getTime() ?? 0) - (a.failedAt?.getTime() ?? 0))
    .slice(0, limit);
}
