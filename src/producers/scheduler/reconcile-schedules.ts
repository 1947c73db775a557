import type { JobSchedulerJson, JobsOptions, Queue } from 'bullmq';
import type { Queues } from '../../queues/queues.js';
import type { DesiredSchedule } from './desired-schedules.js';

export interface ReconcileResult {
  created: number;
  updated: number;
  removed: number;
  kept: number;
}

/**
 * How many job schedulers are read from Redis at a time. Each page is compared and dropped before
 * the next is read, so a pass over 10,000 schedules never holds them all: their objects die young
 * instead of filling the old generation pass after pass.
 */
const SCHEDULER_PAGE_SIZE = 500;

function sameSchedule(current: JobSchedulerJson, schedule: DesiredSchedule): boolean {
  return (
    current.every === schedule.every &&
    current.name === schedule.name &&
    (current.offset ?? 0) === schedule.offset &&
    JSON.stringify(current.template?.data ?? {}) === JSON.stringify(schedule.data)
  );
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
  pageSize = SCHEDULER_PAGE_SIZE,
): Promise<ReconcileResult> {
  const result: ReconcileResult = { created: 0, updated: 0, removed: 0, kept: 0 };
  for (const queueName of queueNames) {
    const queue = queues.get(queueName);
    if (!queue) throw new Error(`reconcileSchedules: no queue ${queueName}`);
    const wanted = new Map<string, DesiredSchedule>();
    for (const schedule of desired) if (schedule.queue === queueName) wanted.set(schedule.id, schedule);
    const { stale, differing, unseen, kept } = await compareInPages(queue, wanted, pageSize);
    result.kept += kept;
    // Schedulers are listed by next run: one that fired during the paging moved and may have been
    // skipped. Each one not seen is looked up by id before it counts as missing.
    for (let start = 0; start < unseen.length; start += pageSize) {
      const batch = unseen.slice(start, start + pageSize);
      const found = await Promise.all(batch.map((schedule) => queue.getJobScheduler(schedule.id)));
      batch.forEach((schedule, i) => {
        const current = found[i];
        if (current === undefined) differing.push({ schedule, exists: false });
        else if (sameSchedule(current, schedule)) result.kept += 1;
        else differing.push({ schedule, exists: true });
      });
    }
    // Writes come after the reading: each one would move schedulers between pages.
    for (const { schedule, exists } of differing) {
      await queue.upsertJobScheduler(
        schedule.id,
        { every: schedule.every, offset: schedule.offset },
        { name: schedule.name, data: schedule.data, opts: template },
      );
      if (exists) result.updated += 1;
      else result.created += 1;
    }
    for (const id of stale) {
      await queue.removeJobScheduler(id);
      result.removed += 1;
    }
  }
  return result;
}

/** Reads the queue's schedulers a page at a time and sorts them against `wanted`. */
async function compareInPages(
  queue: Queue,
  wanted: ReadonlyMap<string, DesiredSchedule>,
  pageSize: number,
): Promise<{
  stale: Set<string>;
  differing: Array<{ schedule: DesiredSchedule; exists: boolean }>;
  unseen: DesiredSchedule[];
  kept: number;
}> {
  const stale = new Set<string>();
  const differing: Array<{ schedule: DesiredSchedule; exists: boolean }> = [];
  const seen = new Set<string>();
  let kept = 0;
  const total = await queue.getJobSchedulersCount();
  for (let start = 0; start < total; start += pageSize) {
    for (const current of await queue.getJobSchedulers(start, start + pageSize - 1, true)) {
      const schedule = wanted.get(current.key);
      if (schedule === undefined) stale.add(current.key);
      else if (seen.has(schedule.id))
        continue; // listed twice: it moved between two pages
      else {
        seen.add(schedule.id);
        if (sameSchedule(current, schedule)) kept += 1;
        else differing.push({ schedule, exists: true });
      }
    }
  }
  const unseen: DesiredSchedule[] = [];
  for (const schedule of wanted.values()) if (!seen.has(schedule.id)) unseen.push(schedule);
  return { stale, differing, unseen, kept };
}
