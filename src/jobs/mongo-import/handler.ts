import { PermanentJobError } from '../../errors.js';
import { confinedPath } from '../../payload-paths.js';
import { defineHandler, type JobContext } from '../job.js';
import { mongoImportContract, type MongoImportPayload as Payload } from './contract.js';
import { openFileSource } from '../../import/file-source.js';
import type { ImportSource } from '../../import/import-source.js';
import { openLiveSource } from '../../import/live-source.js';
import { runImport, type ImportResult } from '../../import/run-import.js';
import { importTargets, type CollectionKind } from '../../import/targets.js';

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

async function importOne(
  ctx: JobContext,
  collection: CollectionKind,
  file: string | undefined,
  batchSize: number | undefined,
): Promise<ImportResult> {
  const size = batchSize ?? ctx.config.IMPORT_BATCH_SIZE;
  const source = await openSource(ctx, collection, file, size);
  const options = { batchSize: size, maxRejectRatio: ctx.config.IMPORT_MAX_REJECT_RATIO };
  return runImport(ctx, source, importTargets[collection], options);
}

async function openSource(
  ctx: JobContext,
  collection: CollectionKind,
  file: string | undefined,
  batchSize: number,
): Promise<ImportSource> {
  if (file !== undefined) {
    const allowed = ctx.operatorShell
      ? file
      : await confinedPath(
          `mongo-import ${collection}`,
          file,
          { variable: 'IMPORT_FILES_DIR', dir: ctx.config.IMPORT_FILES_DIR },
          { create: false },
        );
    return openFileSource(collection, allowed, ctx.config.IMPORT_MAX_DOCUMENT_BYTES);
  }
  if (ctx.config.MONGO_URL === undefined) {
    throw new PermanentJobError(
      `mongo-import ${collection}: MONGO_URL is not set; set it to read the live MongoDB, or give --file`,
    );
  }
  const { db } = await ctx.mongo();
  const name = collection === 'users' ? ctx.config.MONGO_USERS_COLLECTION : ctx.config.MONGO_SNAPSHOTS_COLLECTION;
  return openLiveSource(collection, db, name, batchSize);
}
