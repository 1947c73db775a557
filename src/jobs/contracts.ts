import type { z } from 'zod';
import { botSyncContract } from './bot-sync/contract.js';
import { echoContract } from './echo/contract.js';
import type { JobContract } from './job.js';
import { mongoImportContract } from './mongo-import/contract.js';
import { tursoProvisionContract } from './turso-provision/contract.js';
import { tursoPushContract } from './turso-push/contract.js';
import { tursoRestoreContract } from './turso-restore/contract.js';
import { userReconcileContract } from './user-reconcile/contract.js';
import { userUpsertContract } from './user-upsert/contract.js';

/**
 * The typed job map of contracts, which producers use: `enqueue(queues, 'bot-sync', payload)` is
 * checked by the compiler and validated at run time without loading any handler (only the
 * workers import handlers, through handlers.ts). Each job type has a queue of its own (named
 * like the job), so `worker --queues` scales each kind separately and Bull Board shows one
 * queue per flow.
 */
export const jobContracts = {
  echo: echoContract,
  'bot-sync': botSyncContract,
  'mongo-import': mongoImportContract,
  'user-upsert': userUpsertContract,
  'user-reconcile': userReconcileContract,
  'turso-push': tursoPushContract,
  'turso-restore': tursoRestoreContract,
  'turso-provision': tursoProvisionContract,
} as const;

export type JobName = keyof typeof jobContracts;
export type PayloadOf<N extends JobName> = z.input<(typeof jobContracts)[N]['payload']>;

export const JOB_NAMES = Object.keys(jobContracts) as JobName[];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobContracts, name);
}

export function jobContract(name: JobName): JobContract<JobName, unknown> {
  return jobContracts[name] as unknown as JobContract<JobName, unknown>;
}
