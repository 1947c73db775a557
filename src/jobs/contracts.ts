import type { z } from 'zod';
import { botSyncJob } from './bot-sync.js';
import { echoJob } from './echo.js';
import type { JobDefinition } from './job.js';
import { mongoImportJob } from './mongo-import/mongo-import-job.js';
import { tursoProvisionJob } from './turso/provision-job.js';
import { tursoPushJob } from './turso/push-job.js';
import { tursoRestoreJob } from './turso/restore-job.js';
import { userReconcileJob } from './user-reconcile.js';
import { userUpsertJob } from './user-upsert.js';

/**
 * The typed job map shared by producers and workers. Each job type has a queue of its own
 * (named like the job), so `worker --queues` scales each kind separately and Bull Board
 * shows one queue per flow.
 */
export const jobs = {
  echo: echoJob,
  'bot-sync': botSyncJob,
  'mongo-import': mongoImportJob,
  'user-upsert': userUpsertJob,
  'user-reconcile': userReconcileJob,
  'turso-push': tursoPushJob,
  'turso-restore': tursoRestoreJob,
  'turso-provision': tursoProvisionJob,
} as const;

export type JobName = keyof typeof jobs;
export type PayloadOf<N extends JobName> = z.input<(typeof jobs)[N]['payload']>;
export type ResultOf<N extends JobName> = Awaited<ReturnType<(typeof jobs)[N]['handle']>>;

export const JOB_NAMES = Object.keys(jobs) as JobName[];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobs, name);
}

export function jobDefinition(name: JobName): JobDefinition<unknown, unknown> {
  return jobs[name] as unknown as JobDefinition<unknown, unknown>;
}
