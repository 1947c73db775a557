import type { Config } from '../config.js';
import type { MongoHandle } from '../connections/mongo.js';
import { PermanentJobError } from '../errors.js';
import type { RunContext } from '../run-context.js';
import { openFileSource } from './file-source.js';
import type { ImportSource } from './import-source.js';
import { openLiveSource } from './live-source.js';
import { runImport, type ImportResult } from './run-import.js';
import { importTargets, type CollectionKind } from './targets.js';

/** An import's context: the run's, the settings the import reads, and MongoDB when no file is given. */
export interface ImportContext extends RunContext {
  readonly config: Pick<
    Config,
    | 'IMPORT_BATCH_SIZE'
    | 'IMPORT_MAX_REJECT_RATIO'
    | 'IMPORT_MAX_DOCUMENT_BYTES'
    | 'MONGO_URL'
    | 'MONGO_USERS_COLLECTION'
    | 'MONGO_SNAPSHOTS_COLLECTION'
  >;
  /** Connects to MONGO_URL on first use. */
  readonly mongo: () => Promise<MongoHandle>;
}

/**
 * MongoDB users or portfoliosnapshots into PostgreSQL, in resumable batches: from a mongoexport
 * `file` (a path the caller allows), or from the live collection when there is none.
 */
export async function importCollection(
  ctx: ImportContext,
  collection: CollectionKind,
  { file, batchSize }: { file: string | undefined; batchSize: number | undefined },
): Promise<ImportResult> {
  const size = batchSize ?? ctx.config.IMPORT_BATCH_SIZE;
  const source = await openSource(ctx, collection, file, size);
  const options = { batchSize: size, maxRejectRatio: ctx.config.IMPORT_MAX_REJECT_RATIO };
  return runImport(ctx, source, importTargets[collection], options);
}

async function openSource(
  ctx: ImportContext,
  collection: CollectionKind,
  file: string | undefined,
  batchSize: number,
): Promise<ImportSource> {
  if (file !== undefined) return openFileSource(collection, file, ctx.config.IMPORT_MAX_DOCUMENT_BYTES);
  if (ctx.config.MONGO_URL === undefined) {
    throw new PermanentJobError(
      `mongo-import ${collection}: MONGO_URL is not set; set it to read the live MongoDB, or give --file`,
    );
  }
  const { db } = await ctx.mongo();
  const name = collection === 'users' ? ctx.config.MONGO_USERS_COLLECTION : ctx.config.MONGO_SNAPSHOTS_COLLECTION;
  return openLiveSource(collection, db, name, batchSize);
}
