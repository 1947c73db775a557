import { botSyncHandler } from './bot-sync/handler.js';
import type { JobName } from './contracts.js';
import { echoHandler } from './echo/handler.js';
import type { JobHandler } from './job.js';
import { mongoImportHandler } from './mongo-import/handler.js';
import { tursoProvisionHandler } from './turso-provision/handler.js';
import { tursoPushHandler } from './turso-push/handler.js';
import { tursoRestoreHandler } from './turso-restore/handler.js';
import { userReconcileHandler } from './user-reconcile/handler.js';
import { userUpsertHandler } from './user-upsert/handler.js';

/**
 * The workers' job map: name -> handler. Only the workers and `ctp-etl run` import it; producers
 * use contracts.ts. Each entry's contract must be the one of its name.
 */
export const jobHandlers = {
  echo: echoHandler,
  'bot-sync': botSyncHandler,
  'mongo-import': mongoImportHandler,
  'user-upsert': userUpsertHandler,
  'user-reconcile': userReconcileHandler,
  'turso-push': tursoPushHandler,
  'turso-restore': tursoRestoreHandler,
  'turso-provision': tursoProvisionHandler,
} as const satisfies { [N in JobName]: { readonly contract: { readonly name: N } } };

/** A handler's result, read from its type alone: a producer that imports this type loads no handler. */
export type ResultOf<N extends JobName> = Awaited<ReturnType<(typeof jobHandlers)[N]['handle']>>;

export function jobHandler(name: JobName): JobHandler<JobName, unknown, unknown> {
  return jobHandlers[name] as unknown as JobHandler<JobName, unknown, unknown>;
}
