import { PermanentJobError } from '../../errors.js';
import { runImport, type ImportResult } from '../../import/run-import.js';
import { usersTarget } from '../../import/targets.js';
import { defineHandler } from '../job.js';
import { userReconcileContract, type UserReconcilePayload as Payload } from './contract.js';
import { openReconcileSource } from '../../import/reconcile-source.js';

export interface UserReconcileResult extends ImportResult {
  /** Users changed at or after this time (MongoDB's dates) were read; null: all of them (the first run). */
  since: string | null;
  /** Users parked for an address another user held, read again whatever their dates. */
  parked: number;
}

/**
 * `user-reconcile`: the dual-write's safety net, repeated by the scheduler every USER_RECONCILE_INTERVAL (producers/scheduler/schedule-sources.ts).
 * Re-imports the MongoDB users whose updatedAt is at or after the latest updatedAt the last runs
 * read (less overlapMs), and the users parked for an address another user held, catching writes
 * whose user-upsert job never reached the queue or was rejected. It is one
 * more import source (reconcile-source.ts) through the import pipeline, so mapping, writes,
 * rejects, counts and checkpoints are the import's; users already in PostgreSQL count as
 * unchanged. Rejects never fail the run (a handful of changed users may all be bad): they are
 * in the rejects table with source `user-reconcile`.
 */
export const userReconcileHandler = defineHandler({
  contract: userReconcileContract,
  async handle(p: Payload, ctx): Promise<UserReconcileResult> {
    if (ctx.config.MONGO_URL === undefined) throw new PermanentJobError('user-reconcile: MONGO_URL is not set');
    const { db } = await ctx.mongo();
    const batchSize = ctx.config.IMPORT_BATCH_SIZE;
    const { source, scanFrom, parked } = await openReconcileSource(ctx.pg, db, ctx.config.MONGO_USERS_COLLECTION, {
      marginMs: p.overlapMs,
      batchSize,
    });
    await ctx.log(
      `reconciling users ${scanFrom === null ? 'all (first run)' : `changed since ${scanFrom} and ${parked} parked`}`,
    );
    const result = await runImport(ctx, source, usersTarget, { batchSize, maxRejectRatio: 1, job: 'user-reconcile' });
    return { ...result, since: scanFrom, parked };
  },
});
