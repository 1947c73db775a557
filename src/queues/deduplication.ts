import type { JobsOptions, Queue } from 'bullmq';

/**
 * A bot's job as the change watcher enqueues it: one waiting per bot however many writes, and a
 * write while one runs queues exactly one more, at the back of the queue once it ends (BullMQ's
 * keepLastIfActive), so a bot that writes without pause takes its turn like the others.
 */
export function oncePerBot(bot: string): JobsOptions {
  return { deduplication: { id: bot, keepLastIfActive: true } };
}

/** States of a job that has not started: it reads the bot's file later than now. */
const NOT_STARTED = new Set(['waiting', 'prioritized', 'delayed']);

/**
 * The id of the bot's deduplicated job (oncePerBot) when it is queued and has not started, else
 * undefined. A scheduled job of the same bot is then redundant: the queued one syncs whatever the
 * schedule would have, later (schedules carry no deduplication: BullMQ #2954).
 */
export async function queuedJobOfBot(queue: Queue, bot: string): Promise<string | undefined> {
  const jobId = await queue.getDeduplicationJobId(bot);
  if (jobId === null || jobId === undefined || jobId === '') return undefined;
  return NOT_STARTED.has(await queue.getJobState(jobId)) ? jobId : undefined;
}
