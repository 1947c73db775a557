import type { Job } from 'bullmq';
import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import type { MongoHandle } from '../connections/mongo.js';
import type { JobContext } from '../jobs/job.js';
import type { Logger } from '../logger.js';

export interface SharedResources {
  config: Config;
  pg: PgPool;
  mongo: () => Promise<MongoHandle>;
  logger: Logger;
}

/** The one place a BullMQ job becomes a handler's ctx: job-bound logger, job.log, progress, signal. */
export function contextForJob(job: Job, signal: AbortSignal, shared: SharedResources): JobContext {
  const attempt = job.attemptsMade + 1;
  const logger = shared.logger.child({ jobId: job.id, queue: job.queueName, job: job.name, attempt });
  return {
    config: shared.config,
    pg: shared.pg,
    mongo: shared.mongo,
    logger,
    signal,
    attempt,
    jobId: job.id,
    operatorShell: false,
    async log(line) {
      logger.debug(line);
      await job.log(`${new Date().toISOString()} ${line}`);
    },
    async progress(value) {
      await job.updateProgress(value);
    },
  };
}

/**
 * The same ctx for in-process runs (`ctp-etl run`, benchmarks, tests): logs go to the logger, and
 * payload paths are the operator's own (`operatorShell`), unless a test says otherwise.
 */
export function contextForLocalRun(
  shared: SharedResources,
  signal: AbortSignal = new AbortController().signal,
  { operatorShell = true }: { operatorShell?: boolean } = {},
): JobContext {
  return {
    operatorShell,
    config: shared.config,
    pg: shared.pg,
    mongo: shared.mongo,
    logger: shared.logger,
    signal,
    attempt: 1,
    jobId: undefined,
    async log(line) {
      shared.logger.info(line);
    },
    async progress() {
      // nothing watches an in-process run's progress
    },
  };
}
