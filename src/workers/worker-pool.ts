import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { PermanentJobError } from '../errors.js';
import type { RedisConnection } from '../connections/redis.js';
import type { JobName } from '../jobs/contracts.js';
import type { JobMetrics } from '../monitoring/job-metrics.js';
import { within } from '../lifecycle/deadlines.js';
import { queueNameFor } from '../queues/host-routing.js';
import { queuedJobOfBot } from '../queues/deduplication.js';
import { closeQueues, createQueues, telemetryOption, type Queues } from '../queues/queues.js';
import { contextForJob, type SharedResources } from './job-context.js';
import { runJob } from './run-job.js';

export interface WorkerPoolOptions {
  queues: readonly JobName[];
  concurrency: number;
  /** Job durations and rows written, observed as each attempt ends. */
  metrics?: JobMetrics;
  /** The workers' `error` events (Redis lost, a lock not renewed); logged as `worker error` without one. */
  onError?: (error: unknown) => void;
}

/**
 * One BullMQ Worker per queue. Stalled jobs (a worker that died or lost Redis) go back to
 * waiting after JOB_LOCK_DURATION, up to JOB_MAX_STALLED_COUNT times, so a killed worker's job
 * is finished elsewhere rather than lost.
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  /** The same queues, to look up a bot's queued job (scheduledAndQueued). */
  private lookups: Queues = new Map();
  private readonly running = new Set<RunningJob>();
  /** Set once shutdown hands running jobs back: their outcome no longer counts as an attempt. */
  private handingBack = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly shared: SharedResources,
    private readonly connection: RedisConnection,
    private readonly options: WorkerPoolOptions,
  ) {}

  start(): void {
    const { config } = this.shared;
    this.lookups = createQueues(
      config,
      this.connection,
      this.options.queues.map((name) => queueNameFor(name, config.WORKER_HOST)),
      this.options.onError,
    );
    for (const name of this.options.queues) {
      // A worker of a host (WORKER_HOST) serves that host's queue of each job that reads a bot's folder.
      const queueName = queueNameFor(name, config.WORKER_HOST);
      const worker = new Worker(
        queueName,
        (job: Job, token?: string, signal?: AbortSignal) => this.process(name, job, token, signal),
        {
          connection: this.connection,
          prefix: config.QUEUE_PREFIX,
          concurrency: this.options.concurrency,
          lockDuration: config.JOB_LOCK_DURATION,
          stalledInterval: config.JOB_STALLED_INTERVAL,
          maxStalledCount: config.JOB_MAX_STALLED_COUNT,
          autorun: true,
          ...telemetryOption(),
        },
      );
      const onError =
        this.options.onError ??
        ((error: unknown) => this.shared.logger.error('worker error', { queue: queueName, err: error }));
      worker.on('error', onError);
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

  private async process(
    name: JobName,
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const queued = await this.scheduledAndQueued(job);
    if (queued !== undefined) return queued;
    const entry: RunningJob = { job, token };
    this.running.add(entry);
    try {
      const ctx = contextForJob(job, signal ?? new AbortController().signal, this.shared);
      let result: unknown;
      try {
        result = await runJob(name, job.data, ctx);
      } catch (error) {
        if (!this.handingBack) throw forBullmq(error);
      }
      if (this.handingBack) {
        // Our own shutdown ended this run, whatever it returned: the job waits again for the next
        // worker, and WaitingError tells BullMQ it is neither completed nor failed (no attempt burned).
        await this.handBack(entry);
        throw new WaitingError();
      }
      return result;
    } finally {
      this.running.delete(entry);
    }
  }

  /**
   * A scheduled job of a bot (bot-sync, turso-push) whose watcher job is queued and not started
   * yet: that job reads the bot later, so this one completes at once, naming it. Without this, an
   * overloaded queue held two jobs of every busy bot (its schedule's and its watcher's), each a
   * full sync, and a round through the backlog took twice as long.
   */
  private async scheduledAndQueued(job: Job): Promise<ScheduledAndQueued | undefined> {
    const bot: unknown = (job.data as { bot?: unknown } | null)?.bot;
    if (job.repeatJobKey === undefined || typeof bot !== 'string') return undefined;
    const queue = this.lookups.get(job.queueName);
    const queuedJob = queue === undefined ? undefined : await queuedJobOfBot(queue, bot);
    return queuedJob === undefined ? undefined : { bot, skipped: 'queued', queuedJob };
  }

  /** Moves a running job back to waiting, once; a job already finished or moved stays as it is. */
  private handBack(entry: RunningJob): Promise<void> {
    entry.handedBack ??= entry.job.moveToWait(entry.token).then(
      () =>
        this.shared.logger.info('job handed back to the queue', { jobId: entry.job.id, queue: entry.job.queueName }),
      (error: unknown) =>
        this.shared.logger.warn('could not hand a job back; it returns as stalled', {
          jobId: entry.job.id,
          queue: entry.job.queueName,
          err: error,
        }),
    );
    return entry.handedBack;
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
   * timeout of its own). Past it, running jobs are handed back to waiting (no attempt burned: our
   * own shutdown is not the job's failure) and their handlers aborted through their signal; the
   * pool then waits HAND_BACK_GRACE_MS at most for them to return. A handler that ignores its signal
   * keeps running until the process exits, but its job is already waiting for another worker.
   * Safe to call twice.
   */
  stop(timeoutMs = this.shared.config.SHUTDOWN_TIMEOUT): Promise<void> {
    this.stopping ??= this.stopAll(timeoutMs);
    return this.stopping;
  }

  /** The longest `stop()` takes. */
  get stopBoundMs(): number {
    return this.shared.config.SHUTDOWN_TIMEOUT + 2 * HAND_BACK_GRACE_MS;
  }

  private async stopAll(timeoutMs: number): Promise<void> {
    const closed = Promise.all(this.workers.map((worker) => worker.close())).then(() => 'closed' as const);
    try {
      await this.closeWorkers(closed, timeoutMs);
    } finally {
      await closeQueues(this.lookups);
    }
  }

  private async closeWorkers(closed: Promise<'closed'>, timeoutMs: number): Promise<void> {
    if ((await within(closed, timeoutMs)) === 'closed') return;
    this.shared.logger.warn('shutdown timeout reached; handing running jobs back to the queue', {
      timeoutMs,
      jobs: this.running.size,
    });
    this.handingBack = true;
    await within(Promise.all([...this.running].map((entry) => this.handBack(entry))), HAND_BACK_GRACE_MS);
    for (const worker of this.workers) worker.cancelAllJobs('worker shutting down');
    await within(closed, HAND_BACK_GRACE_MS);
  }
}

/** A permanent failure becomes BullMQ's UnrecoverableError (no retry), keeping its message and stack. */
function forBullmq(error: unknown): unknown {
  if (!(error instanceof PermanentJobError)) return error;
  const unrecoverable = new UnrecoverableError(error.message);
  unrecoverable.stack = error.stack;
  unrecoverable.cause = error;
  return unrecoverable;
}

/** What a scheduled job reports when the bot's queued job does its work instead. */
interface ScheduledAndQueued {
  bot: string;
  skipped: 'queued';
  /** The bot's job that was queued, not yet started, when this one ran. */
  queuedJob: string;
}

interface RunningJob {
  job: Job;
  token: string | undefined;
  handedBack?: Promise<void>;
}

/** How long shutdown waits, past SHUTDOWN_TIMEOUT, for running jobs to be handed back and return. */
const HAND_BACK_GRACE_MS = 1_000;
