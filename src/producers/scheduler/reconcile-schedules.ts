import type { JobsOptions } from 'bullmq';
import type { Queues } from '../../queues/queues.js';
import type { DesiredSchedule } from './desired-schedules.js';

export interface ReconcileResult {
  created: number;
  updated: number;
  removed: number;
  kept: number;
}

/**
 * Makes the job schedulers of `queueNames` what `desired` says, touching only the ones that are
 * missing or differ: an unchanged schedule is never rewritten (rewriting one moves its next run,
 * and upserting from several processes is unsafe: BullMQ #3262, #3063). Templates carry no
 * deduplication (BullMQ #2954).
 */
export async function reconcileSchedules(
  queues: Queues,
  queueNames: readonly string[],
  desired: readonly DesiredSchedule[],
  template: JobsOptions,
): Promise<ReconcileResult> {
  const result: ReconcileResult = { created: 0, updated: 0, removed: 0, kept: 0 };
  for (const queueName of queueNames) {
    const queue = queues.get(queueName);
    if (!queue) throw new Error(`reconcileSchedules: no queue ${queueName}`);
    const existing = new Map((await queue.getJobSchedulers(0, -1, true)).map((s) => [s.key, s]));
    const wanted = desired.filter((d) => d.queue === queueName);
    for (const schedule of wanted) {
      const current = existing.get(schedule.id);
      existing.delete(schedule.id);
      const same =
        current !== undefined &&
        current.every === schedule.every &&
        current.name === schedule.name &&
        (current.offset ?? 0) === schedule.offset &&
        JSON.stringify(current.template?.data ?? {}) === JSON.stringify(schedule.data);
      if (same) {
        result.kept += 1;
        continue;
      }
      await queue.upsertJobScheduler(
        schedule.id,
        { every: schedule.every, offset: schedule.offset },
        { name: schedule.name, data: schedule.data, opts: template },
      );
      if (current === undefined) result.created += 1;
      else result.updated += 1;
    }
    for (const stale of existing.keys()) {
      await queue.removeJobScheduler(stale);
      result.removed += 1;
    }
  }
  return result;
}
