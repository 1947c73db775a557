import type { Document, Filter } from 'mongodb';
import type { PoolClient } from 'pg';
import { withTransaction } from '../../connections/transaction.js';
import { PermanentJobError, errorMessage } from '../../errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../import/checkpoint.js';
import { showIdValue } from '../../mongo-values/bson-values.js';
import { canonicalEjson } from '../../mongo-values/ejson.js';
import { addCounts, ZERO_COUNTS, type ImportCounts, type Item, type Reject } from '../../import/import-types.js';
import { mapUser, type UserRow } from '../../users/map-user.js';
import { insertRejects } from '../../import/write-batch.js';
import { upsertUsers } from '../../users/upsert-users.js';
import { writeBatch } from '../../import/write-batch.js';
import { defineHandler } from '../job.js';
import { userReconcileContract, type UserReconcilePayload as Payload } from './contract.js';

export interface UserReconcileResult extends ImportCounts {
  since: string | null;
  ms: number;
}

/**
 * `user-reconcile`: the dual-write's safety net, repeated by the scheduler every USER_RECONCILE_INTERVAL (producers/scheduler/schedule-sources.ts).
 * Re-imports the MongoDB users whose updatedAt is at or after the start of the last completed run
 * (less overlapMs), catching writes whose user-upsert job never reached the queue. Upserts are the
 * import's, so users already in PostgreSQL count as unchanged. Not resumable mid-run: a failed run
 * leaves the watermark where it was and the next one reads the same users again.
 */
export const userReconcileHandler = defineHandler({
  contract: userReconcileContract,
  async handle(p: Payload, ctx): Promise<UserReconcileResult> {
    if (ctx.config.MONGO_URL === undefined) throw new PermanentJobError('user-reconcile: MONGO_URL is not set');
    const started = new Date();
    const { db } = await ctx.mongo();
    const collection = ctx.config.MONGO_USERS_COLLECTION;
    const key = `users:reconcile:${db.databaseName}.${collection}`;
    const source = `mongodb:${db.databaseName}.${collection}`;
    const client = await ctx.pg.connect();
    let failed = false;
    try {
      const saved = await loadCheckpoint(client, key);
      const since =
        saved?.position.kind === 'reconcile' ? new Date(Date.parse(saved.position.since) - p.overlapMs) : undefined;
      const filter = (
        since === undefined ? {} : { $or: [{ updatedAt: { $gte: since } }, { updated_at: { $gte: since } }] }
      ) as Filter<Document>;
      await ctx.log(`reconciling users ${since ? `changed since ${since.toISOString()}` : 'all (first run)'}`);
      let counts = ZERO_COUNTS;
      let batch: Document[] = [];
      const flush = async () => {
        counts = addCounts(counts, await upsertBatch(client, batch, source, ctx.jobId));
        batch = [];
      };
      const cursor = db
        .collection(collection)
        .find(filter, { sort: { _id: 1 }, batchSize: ctx.config.IMPORT_BATCH_SIZE, useBigInt64: true });
      for await (const doc of cursor) {
        batch.push(doc);
        if (batch.length >= ctx.config.IMPORT_BATCH_SIZE) await flush();
      }
      if (batch.length > 0) await flush();
      await saveCheckpoint(client, {
        key,
        collection: 'users',
        source,
        position: { kind: 'reconcile', since: started.toISOString() },
        counts,
        completed: true,
      });
      await ctx.log(
        `reconciled users: ${counts.read} read, ${counts.inserted} inserted, ${counts.updated} updated, ${counts.rejected} rejected`,
      );
      return { ...counts, since: since?.toISOString() ?? null, ms: Date.now() - started.getTime() };
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      client.release(failed);
    }
  },
});

async function upsertBatch(
  client: PoolClient,
  docs: readonly Document[],
  sourceRef: string,
  jobId: string | undefined,
): Promise<Partial<ImportCounts>> {
  const items: Item<UserRow>[] = [];
  const rejects: Reject[] = [];
  for (const doc of docs) {
    const position = `_id ${showIdValue(doc._id)}`;
    try {
      items.push({ row: mapUser(doc), position, raw: () => canonicalEjson(doc) });
    } catch (error) {
      rejects.push({ position, reason: `users document: ${errorMessage(error)}`, raw: canonicalEjson(doc) });
    }
  }
  return withTransaction(client, async (tx) => {
    const outcome = await writeBatch(tx, upsertUsers, items);
    const all = [...rejects, ...outcome.rejects];
    await insertRejects(tx, { source: 'user-reconcile', collection: 'users', sourceRef, jobId }, all);
    return {
      read: docs.length,
      inserted: outcome.inserted,
      updated: outcome.updated,
      rejected: all.length,
      unchanged: items.length - outcome.inserted - outcome.updated - outcome.rejects.length,
    };
  });
}
