import { resolve } from 'node:path';
import { z } from 'zod';
import { PermanentJobError } from '../../errors.js';
import { defineJob, type JobContext } from '../job.js';
import { openFileSource } from './file-source.js';
import type { ImportSource } from '../../import/import-source.js';
import { openLiveSource } from './live-source.js';
import { runImport, type ImportResult } from '../../import/run-import.js';
import { snapshotsTarget, usersTarget, type CollectionKind } from '../../import/targets.js';

const payload = z
  .object({
    collection: z.enum(['users', 'portfoliosnapshots', 'all']),
    /** A mongoexport file; without it the live MongoDB (MONGO_URL) is read. */
    file: z.string().min(1).optional(),
    /** For `all` from files: the two exports. */
    usersFile: z.string().min(1).optional(),
    snapshotsFile: z.string().min(1).optional(),
    batchSize: z.number().int().min(1).max(100_000).optional(),
  })
  .refine((p) => p.collection !== 'all' || p.file === undefined, {
    message:
      'collection "all" reads the live MongoDB, or usersFile and snapshotsFile; file names one collection\'s export',
  });

type Payload = z.infer<typeof payload>;

/**
 * `mongo-import`: MongoDB users or portfoliosnapshots (live, or a mongoexport file) into
 * PostgreSQL, in resumable batches. `all` imports users, then snapshots (which need their users),
 * in one job: a retry skips nothing and redoes nothing a checkpoint already holds.
 */
export const mongoImportJob = defineJob({
  name: 'mongo-import',
  payload,
  title: (p: Payload) =>
    `mongo-import ${p.collection} from ${p.file ?? (p.usersFile || p.snapshotsFile ? 'files' : 'live MongoDB')}`,
  async handle(p: Payload, ctx): Promise<ImportResult | { users: ImportResult; portfoliosnapshots: ImportResult }> {
    if (p.collection !== 'all') return importOne(ctx, p.collection, p.file, p.batchSize);
    const users = await importOne(ctx, 'users', p.usersFile, p.batchSize);
    const portfoliosnapshots = await importOne(ctx, 'portfoliosnapshots', p.snapshotsFile, p.batchSize);
    return { users, portfoliosnapshots };
  },
  async fromCli(options) {
    const collection = options.collection;
    if (collection === undefined) throw new Error('mongo-import needs --collection users, portfoliosnapshots or all');
    if (collection === 'all' && options.file !== undefined) {
      throw new Error(
        '--collection all imports the live MongoDB; for files, import users then portfoliosnapshots, each with its --file',
      );
    }
    // The worker may run elsewhere in the tree: hand it an absolute path.
    return [{ collection, ...(options.file === undefined ? {} : { file: resolve(options.file) }) }];
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
  return collection === 'users'
    ? runImport(ctx, source, usersTarget, options)
    : runImport(ctx, source, snapshotsTarget, options);
}

async function openSource(
  ctx: JobContext,
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
