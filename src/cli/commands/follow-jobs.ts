import type { Job, Queue, QueueEvents } from 'bullmq';
import { errorMessage } from '../../errors.js';
import { ProgressPrinter, type ProgressOutput } from '../progress-printer.js';

/**
 * Waits for jobs to finish, printing progress as it is reported (a bar on a terminal, plain
 * lines otherwise) on `progressOut`, and each job's result on stdout. A failure prints the job's
 * error and how many attempts it had. Returns how many failed.
 */
export async function followJobs(
  jobs: readonly Job[],
  queue: Queue,
  events: QueueEvents,
  progressOut: ProgressOutput = process.stderr): Promise<number> {
  const printer = new ProgressPrinter(progressOut);
  const labels = new Map(jobs.map((job) => [job.id, `job ${job.id} (${job.name})`]));
  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
    const label = labels.get(jobId);
    if (label) printer.update(label, data);
  };
  // A failed attempt with attempts left goes back as delayed; `delay` is when it runs again.
  const onRetry = ({ jobId, delay }: { jobId: string; delay: number }) => {
    const label = labels.get(jobId);
    const seconds = Math.max(0, Math.round((delay - Date.now()) / 100) / 10);
    if (label) printer.line(`${label} attempt failed; retrying in ${seconds}s`);
  };
  events.on('progress', onProgress);
  events.on('delayed', onRetry);
  let failures = 0;
  try {
    for (const job of jobs) {
      const label = labels.get(job.id) ?? `job ${job.id}`;
      try {
        const result: unknown = await job.waitUntilFinished(events);
        printer.endBar();
        process.stdout.write(`${label} completed: ${JSON.stringify(result)}\n`);
      } catch (error) {
        failures += 1;
        const latest = job.id === undefined ? undefined : await queue.getJob(job.id).catch(() => undefined);
        const attempts = latest ? ` after ${latest.attemptsMade} attempt${latest.attemptsMade === 1 ? '' : 's'}` : '';
        printer.line(`${label} failed${attempts}: ${errorMessage(error)}`);
      }
    }
  } finally {
    events.off('progress', onProgress);
    events.off('delayed', onRetry);
  }
  return failures;
}
