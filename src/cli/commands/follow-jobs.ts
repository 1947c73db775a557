import type { Job, Queue, QueueEvents } from 'bullmq';
import { errorMessage } from '../../errors.js';
import { ProgressPrinter, type ProgressOutput } from '../progress-printer.js';

type Seen = { kind: 'progress'; data: unknown } | { kind: 'retry'; delay: number };

/**
 * Follows jobs to their end, printing progress as it is reported (a bar on a terminal, plain
 * lines otherwise) on `progressOut`, and each job's result on stdout. Start it before adding
 * the jobs: a fast job can report progress, or fail an attempt, before `add` has returned.
 */
export class JobFollower {
  private readonly printer: ProgressPrinter;
  private readonly labels = new Map<string, string>();
  /** Events of jobs not yet known to be ours, kept until `follow` says whose they are. */
  private readonly early = new Map<string, Seen[]>();
  private readonly onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void =>
    this.seen(jobId, { kind: 'progress', data });
  // A failed attempt with attempts left goes back as delayed; `delay` is when it runs again.
  private readonly onRetry = ({ jobId, delay }: { jobId: string; delay: number }): void =>
    this.seen(jobId, { kind: 'retry', delay: Number(delay) });

  constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    progressOut: ProgressOutput = process.stderr,
  ) {
    this.printer = new ProgressPrinter(progressOut);
    events.on('progress', this.onProgress);
    events.on('delayed', this.onRetry);
  }

  /** Waits for the jobs to finish; returns how many failed. */
  async follow(jobs: readonly Job[]): Promise<number> {
    for (const job of jobs) {
      if (job.id === undefined) continue;
      this.labels.set(job.id, `job ${job.id} (${job.name})`);
      for (const seen of this.early.get(job.id) ?? []) this.print(job.id, seen);
      this.early.delete(job.id);
    }
    this.early.clear();
    let failures = 0;
    try {
      for (const job of jobs) {
        const label = (job.id && this.labels.get(job.id)) ?? `job ${job.id}`;
        try {
          const result: unknown = await job.waitUntilFinished(this.events);
          this.printer.endBar();
          process.stdout.write(`${label} completed: ${JSON.stringify(result)}\n`);
        } catch (error) {
          failures += 1;
          const latest = job.id === undefined ? undefined : await this.queue.getJob(job.id).catch(() => undefined);
          const attempts = latest ? ` after ${latest.attemptsMade} attempt${latest.attemptsMade === 1 ? '' : 's'}` : '';
          this.printer.line(`${label} failed${attempts}: ${errorMessage(error)}`);
        }
      }
    } finally {
      this.stop();
    }
    return failures;
  }

  stop(): void {
    this.events.off('progress', this.onProgress);
    this.events.off('delayed', this.onRetry);
  }

  private seen(jobId: string, event: Seen): void {
    if (this.labels.has(jobId)) this.print(jobId, event);
    else if (this.labels.size === 0) this.early.set(jobId, [...(this.early.get(jobId) ?? []), event]);
  }

  private print(jobId: string, event: Seen): void {
    const label = this.labels.get(jobId)!;
    if (event.kind === 'progress') {
      this.printer.update(label, event.data);
    } else {
      const seconds = Math.max(0, Math.round((event.delay - Date.now()) / 100) / 10);
      this.printer.line(`${label} attempt failed; retrying in ${seconds}s`);
    }
  }
}
