import type { DefaultJobOptions } from 'bullmq';
import type { Config } from '../config.js';

/**
 * Retries, backoff and retention for every job, set once. Exponential backoff with jitter
 * spreads retries of many jobs that failed together (say, during a PostgreSQL outage).
 * Retention keeps Redis from growing forever: BullMQ keeps every job and its logs by default.
 */
export function defaultJobOptions(config: Config): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF, jitter: 0.5 },
    removeOnComplete: { age: Math.ceil(config.KEEP_COMPLETED_AGE / 1000), count: config.KEEP_COMPLETED_COUNT },
    removeOnFail: { age: Math.ceil(config.KEEP_FAILED_AGE / 1000) },
    keepLogs: config.KEEP_JOB_LOGS,
  };
}
