import { resolve } from 'node:path';
import { z } from 'zod';
import { defineContract } from '../job.js';

/**
 * `mongo-import`: MongoDB users or portfoliosnapshots (live, or a mongoexport file) into
 * PostgreSQL, in resumable batches.
 */
export const mongoImportContract = defineContract({
  name: 'mongo-import',
  payload: z
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
    }),
  title: (p) =>
    `mongo-import ${p.collection} from ${p.file ?? (p.usersFile || p.snapshotsFile ? 'files' : 'live MongoDB')}`,
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

export type MongoImportPayload = z.output<typeof mongoImportContract.payload>;
