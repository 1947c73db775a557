import { confinedPath } from '../../payload-paths.js';
import { defineHandler, type JobContext } from '../job.js';
import { mongoImportContract, type MongoImportPayload as Payload } from './contract.js';
import { importCollection } from '../../import/import-collection.js';
import type { ImportResult } from '../../import/run-import.js';
import type { CollectionKind } from '../../import/targets.js';

/**
 * `mongo-import`: MongoDB users or portfoliosnapshots (live, or a mongoexport file) into
 * PostgreSQL, in resumable batches. `all` imports users, then snapshots (which need their users),
 * in one job: a retry skips nothing and redoes nothing a checkpoint already holds.
 */
export const mongoImportHandler = defineHandler({
  contract: mongoImportContract,
  async handle(p: Payload, ctx): Promise<ImportResult | { users: ImportResult; portfoliosnapshots: ImportResult }> {
    if (p.collection !== 'all') return importOne(ctx, p.collection, p.file, p.batchSize);
    const users = await importOne(ctx, 'users', p.usersFile, p.batchSize);
    const portfoliosnapshots = await importOne(ctx, 'portfoliosnapshots', p.snapshotsFile, p.batchSize);
    return { users, portfoliosnapshots };
  },
});

/** A payload's file stays inside IMPORT_FILES_DIR, unless the operator runs the job in their own shell. */
async function importOne(
  ctx: JobContext,
  collection: CollectionKind,
  file: string | undefined,
  batchSize: number | undefined,
): Promise<ImportResult> {
  const allowed =
    file === undefined || ctx.operatorShell
      ? file
      : await confinedPath(
          `mongo-import ${collection}`,
          file,
          { variable: 'IMPORT_FILES_DIR', dir: ctx.config.IMPORT_FILES_DIR },
          { create: false },
        );
  return importCollection(ctx, collection, { file: allowed, batchSize });
}
