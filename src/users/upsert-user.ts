import type { PgPool } from '../connections/postgres.js';
import { withTransaction } from '../connections/transaction.js';
import { PermanentJobError, errorMessage } from '../errors.js';
import { showId } from '../mongo-values/bson-values.js';
import { canonicalEjson, deserializeEjson } from '../mongo-values/ejson.js';
import { describeId, mapUser, type UserRow } from './map-user.js';
import { upsertUsers } from './upsert-users.js';
import { insertRejects, writeBatch } from '../write-batch.js';

export interface UserUpsertResult {
  /** The user's _id as rejects show it: an ObjectId's hex, a number's digits, a string quoted. */
  mongoId: string;
  outcome: 'inserted' | 'updated' | 'unchanged';
}

/**
 * `user-upsert`: the dual-write. The platform writes a user to MongoDB, then enqueues this job;
 * it upserts the user by Mongo _id with the import's mapper and SQL, and retries (with backoff)
 * while PostgreSQL is unreachable instead of dropping the write. A document that cannot be
 * mapped, or whose email another user holds, lands in rejects and fails the job permanently;
 * the latter is also parked (upsert-users.ts) and lands with the job that frees its address (a
 * move or a swap whose jobs came in the other order). An update older than the row (updatedAt)
 * changes nothing, so retries and reorderings are safe.
 */
export async function upsertUser(
  pg: PgPool,
  document: Record<string, unknown>,
  { jobId, log }: { jobId: string | undefined; log: (line: string) => Promise<void> },
): Promise<UserUpsertResult> {
  const mapped = mapPayload(document);
  if ('reason' in mapped) return rejectAndFail(pg, jobId, mapped);
  const { row, raw } = mapped;
  const shown = showId(row.id);
  const outcome = await withTransaction(pg, async (client) => {
    const written = await writeBatch(client, upsertUsers, [{ row, position: `_id ${shown}`, raw: () => raw }]);
    await insertRejects(client, rejectTarget(jobId), written.rejects);
    return written;
  }).catch((error: unknown) => {
    throw new Error(`user-upsert of user _id ${shown} failed; will retry: ${errorMessage(error)}`, {
      cause: error,
    });
  });
  const reject = outcome.rejects[0];
  if (reject) throw new PermanentJobError(`user-upsert of user _id ${shown} rejected: ${reject.reason}`);
  const result: UserUpsertResult = {
    mongoId: shown,
    outcome: outcome.inserted > 0 ? 'inserted' : outcome.updated > 0 ? 'updated' : 'unchanged',
  };
  await log(`user _id ${shown} ${result.outcome}`);
  return result;
}

function mapPayload(
  p: Record<string, unknown>,
): { row: UserRow; raw: string } | { position: string; reason: string; raw: string } {
  try {
    const doc = deserializeEjson(p);
    return { row: mapUser(doc), raw: canonicalEjson(doc) };
  } catch (error) {
    return {
      position: `_id ${describeId(p._id)}`,
      reason: `users document: ${errorMessage(error)}`,
      raw: JSON.stringify(p),
    };
  }
}

function rejectTarget(jobId: string | undefined) {
  return { source: 'user-upsert', collection: 'users', sourceRef: 'dual-write', jobId };
}

async function rejectAndFail(
  pg: PgPool,
  jobId: string | undefined,
  reject: { position: string; reason: string; raw: string },
): Promise<never> {
  const client = await pg.connect();
  try {
    await insertRejects(client, rejectTarget(jobId), [reject]);
  } finally {
    client.release();
  }
  throw new PermanentJobError(`user-upsert ${reject.position} rejected: ${reject.reason}`);
}
