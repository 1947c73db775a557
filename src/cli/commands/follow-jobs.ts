import type { Job, QueueEvents } from 'bullmq';

/**
 * Waits for jobs to finish, printing progress as it is reported (a bar on a terminal,
 * plain lines otherwise). Returns how many failed; a failure prints the job's error.
 */
export async function followJobs(jobs: readonly Job[], events: QueueEvents): Promise<number> {
  const ids = new Set(jobs.map((job) => job.id));
  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
    if (!ids.has(jobId)) return;
    const percent = typeof data === 'number' ? data : undefined;
    if (process.stderr.isTTY && percent !== undefined) {
      const width = 30;
      const filled = Math.round((percent / 100) * width);
      process.stderr.write(`\r job ${jobId} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent.toFixed(0)}%`);
    } else {
      process.stderr.write(`job ${jobId} progress ${JSON.stringify(data)}\n`);
    }
  };
  events.on('progress', onProgress);
  let failures = 0;
  try {
    for (const job of jobs) {
      try {
        const result: unknown = await job.waitUntilFinished(events);
        if (process.stderr.isTTY) process.stderr.write('\n');
        process.stdout.write(`job ${job.id} completed: ${JSON.stringify(result)}\n`);
      } catch (error) {
        failures += 1;
        if (process.stderr.isTTY) process.stderr.write('\n');
        process.stderr.write(`job ${job.id} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  } finally {
    events.off('progress', onProgress);
  }
  return failures;
}
