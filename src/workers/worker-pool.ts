import { Worker, type Job } from 'bullmq';
import type { RedisConnection } from '../connections/redis.js';
import type { Config } from '../config.js';
import type { JobName } from '../jobs/contracts.js';
import type { JobMetrics } from '../monitoring/job-metrics.js';
import { queueNameFor } from '../queues/host-routing.js';
import { contextForJob, type SharedResources } from './job-context.js';
import { runJob } from './run-job.js';

export interface WorkerPoolOptions {
  queues: readonly JobName[];
  concurrency: number;
  /** Job durations and rows written, observed as each attempt ends. */
  metrics?: JobMetrics;
}

/**
 * One BullMQ Worker per queue. Stalled jobs (a worker that died or lost Redis) go back to
 * waiting after JOB_LOCK_DURATION, up to JOB_MAX_STALLED_COUNT times, so a killed worker's job
 * is finished elsewhere rather than lost.
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly shared: SharedResources,
    private readonly connection: RedisConnection,
    private readonly options: WorkerPoolOptions,
  ) {}

  start(): void {
    const { config } = this.shared;
    for (const name of this.options.queues) {
      // A worker of a host (WORKER_HOST) serves that host's queue of each job that reads a bot's folder.
      const queueName = queueNameFor(name, config.WORKER_HOST);
      const worker = new Worker(
        queueName,
        (job: Job, _token?: string, signal?: AbortSignal) => this.process(name, job, signal),
        {
          connection: this.connection,
          prefix: config.QUEUE_PREFIX,
          concurrency: this.options.concurrency,
          lockDuration: config.JOB_LOCK_DURATION,
          stalledInterval: config.JOB_STALLED_INTERVAL,
          maxStalledCount: config.JOB_MAX_STALLED_COUNT,
          autorun: true,
        },
      );
      worker.on('error', (error) => this.shared.logger.error('worker error', { queue: queueName, err: error }));
      worker.on('completed', (job, result: unknown) => {
        this.logOutcome(job, 'completed');
        this.options.metrics?.observe(name, job, 'completed', result);
      });
      worker.on('failed', (job, error) => {
        if (!job) return;
        this.logOutcome(job, 'failed', error);
        this.options.metrics?.observe(name, job, 'failed');
      });
      this.workers.push(worker);
    }
  }

  /** Resolves once every worker is connected and waiting for jobs. */
  async ready(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  private async process(name: JobName, job: Job, signal: AbortSignal | undefined): Promise<unknown> {
    const ctx = contextForJob(job, signal ?? new AbortController().signal, this.shared);
    return runJob(name, job.data, ctx);
  }

  private logOutcome(job: Job, outcome: 'completed' | 'failed', error?: Error): void {
    const attempts = job.opts.attempts ?? 1;
    const fields = {
      jobId: job.id,
      queue: job.queueName,
      job: job.name,
      ms: job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : undefined,
      attempt: `${job.attemptsMade} of ${attempts}`,
    };
    if (outcome === 'completed') this.shared.logger.info('job completed', fields);
    else this.shared.logger.warn('job failed', { ...fields, error: error?.message });
  }

  /**
   * Stops taking jobs and lets running ones finish within SHUTDOWN_TIMEOUT (worker.close() has no
   * timeout of its own). Past it, running handlers are aborted through their signal and the
   * workers close by force: those jobs fail this attempt and are retried, or, if the process dies
   * first, come back as stalled. Safe to call twice.
   */
  stop(timeoutMs = this.shared.config.SHUTDOWN_TIMEOUT): Promise<void> {
    this.stopping ??= this.stopAll(timeoutMs);
    return this.stopping;
  }

  private async stopAll(timeoutMs: number): Promise<void> {
    const graceful = Promise.all(this.workers.map((worker) => worker.close()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([graceful.then(() => 'closed' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.shared.logger.warn('shutdown timeout reached; aborting running jobs', { timeoutMs });
      for (const worker of this.workers) worker.cancelAllJobs('worker shutting down');
      await Promise.all(this.workers.map((worker) => worker.close(true)));
    }
  }
}

export function workerPoolOptions(config: Config, queues: readonly JobName[], concurrency?: number): WorkerPoolOptions {
  return { queues, concurrency: concurrency ?? config.WORKER_CONCURRENCY };
}
