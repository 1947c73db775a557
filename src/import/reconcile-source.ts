import { ObjectId, type Db, type Document, type Filter } from 'mongodb';
import type { PgPool } from '../connections/postgres.js';
import { PermanentJobError } from '../errors.js';
import { loadCheckpoint, type SourcePosition } from './checkpoint.js';
import type { ImportContext } from './import-collection.js';
import type { ImportSource, SourceRecord } from './import-source.js';
import { lastIdValue, readLiveCollection } from './live-source.js';
import { runImport, type ImportResult } from './run-import.js';
import { usersTarget } from './targets.js';
import { showIdValue, type MongoId } from '../mongo-values/bson-values.js';
import { canonicalEjson } from '../mongo-values/ejson.js';

type ReconcilePosition = Extract<SourcePosition, { kind: 'reconcile' }>;

export interface UserReconcileResult extends ImportResult {
  /** Users changed at or after this time (MongoDB's dates) were read; null: all of them (the first run). */
  since: string | null;
  /** Users parked for an address another user held, read again whatever their dates. */
  parked: number;
}

/**
 * The dual-write's safety net: re-imports the MongoDB users whose updatedAt is at or after the
 * latest updatedAt the last runs read (less `overlapMs`), and the users parked for an address
 * another user held, catching writes whose user-upsert job never reached the queue or was
 * rejected. It is one more import source (openReconcileSource) through the import pipeline, so
 * mapping, writes, rejects, counts and checkpoints are the import's; users already in PostgreSQL
 * count as unchanged. Rejects never fail the run (a handful of changed users may all be bad):
 * they are in the rejects table with source `user-reconcile`.
 */
export async function reconcileUsers(ctx: ImportContext, overlapMs: number): Promise<UserReconcileResult> {
  if (ctx.config.MONGO_URL === undefined) throw new PermanentJobError('user-reconcile: MONGO_URL is not set');
  const { db } = await ctx.mongo();
  const batchSize = ctx.config.IMPORT_BATCH_SIZE;
  const { source, scanFrom, parked } = await openReconcileSource(ctx.pg, db, ctx.config.MONGO_USERS_COLLECTION, {
    marginMs: overlapMs,
    batchSize,
  });
  await ctx.log(
    `reconciling users ${scanFrom === null ? 'all (first run)' : `changed since ${scanFrom} and ${parked} parked`}`,
  );
  const result = await runImport(ctx, source, usersTarget, { batchSize, maxRejectRatio: 1, job: 'user-reconcile' });
  return { ...result, since: scanFrom, parked };
}

/** The reconcile source as opened, the time its scan reads from (null: every user), and how many parked users it reads again. */
export interface ReconcileSource {
  source: ImportSource;
  scanFrom: string | null;
  parked: number;
}

/**
 * The users of a live collection changed at or after the last run's watermark less `marginMs`,
 * and the users parked for an address another user held (user_conflicts, upsert-users.ts), in
 * _id order, as an import source run by runImport like any import. Its checkpoint (key
 * `users:reconcile:<db>.<collection>`) says where the run is and carries the watermark: the
 * latest updatedAt read (MongoDB's dates: the platform's clock, never this host's), so a
 * platform whose clock is behind this host's loses no change. The margin re-reads writes
 * committed after later-dated ones and covers the spread between the platform's writers' clocks;
 * a date ahead of this host by more than the margin is read but does not move the watermark (one
 * wrong date cannot hide every change before it). A document with no Date updatedAt is read only
 * by a full run (the first). A failed run resumes after its last committed _id with the same scan.
 */
export async function openReconcileSource(
  pg: PgPool,
  db: Db,
  collection: string,
  options: { marginMs: number; batchSize: number },
): Promise<ReconcileSource> {
  const key = `users:reconcile:${db.databaseName}.${collection}`;
  const saved = await loadCheckpoint(pg, key);
  const last = saved?.position.kind === 'reconcile' ? saved.position : undefined;
  let initial: ReconcilePosition;
  if (saved !== undefined && !saved.completed && last !== undefined) {
    initial = { ...last, lastId: null };
  } else {
    const watermark = last?.highest ?? last?.since ?? null;
    initial = {
      kind: 'reconcile',
      scanFrom: watermark === null ? null : new Date(Date.parse(watermark) - options.marginMs).toISOString(),
      lastId: null,
      highest: watermark,
    };
  }
  const scanFrom = initial.scanFrom ?? null;
  const parked = await parkedIds(pg);
  const filter = (
    scanFrom === null
      ? undefined
      : {
          $or: [
            { updatedAt: { $gte: new Date(scanFrom) } },
            { updated_at: { $gte: new Date(scanFrom) } },
            ...(parked.length === 0 ? [] : [{ _id: { $in: parked } }]),
          ],
        }
  ) as Filter<Document> | undefined;
  const source: ImportSource = {
    key,
    ref: `mongodb:${db.databaseName}.${collection}`,
    initial,
    canResume: (position) => position.kind === 'reconcile' && (position.scanFrom ?? null) === scanFrom,
    describe: (position) =>
      position.kind === 'reconcile' && position.lastId ? `after _id ${position.lastId}` : 'start',
    estimateTotal: () => undefined,
    async *records(from: SourcePosition): AsyncGenerator<SourceRecord> {
      const at = from.kind === 'reconcile' ? from : initial;
      const afterId = at.lastId ? lastIdValue(at.lastId) : undefined;
      const ceiling = Date.now() + options.marginMs;
      let highest = at.highest ?? null;
      for await (const { doc } of readLiveCollection(db, collection, {
        afterId,
        batchSize: options.batchSize,
        filter,
      })) {
        const changed = changedAt(doc);
        if (changed !== undefined && changed <= ceiling && (highest === null || changed > Date.parse(highest)))
          highest = new Date(changed).toISOString();
        yield {
          position: `_id ${showIdValue(doc._id)}`,
          doc,
          after: { ...initial, lastId: canonicalEjson({ id: doc._id }), highest },
        };
      }
    },
  };
  return { source, scanFrom, parked: parked.length };
}

/** The document's latest updatedAt (either spelling) in ms, of those that are dates: what the scan's filter compares. */
function changedAt(doc: Document): number | undefined {
  const times = [doc.updatedAt, doc.updated_at].flatMap((value: unknown) =>
    value instanceof Date && !Number.isNaN(value.getTime()) ? [value.getTime()] : [],
  );
  return times.length === 0 ? undefined : Math.max(...times);
}

/** The _ids of the parked users, as MongoDB holds them. */
async function parkedIds(pg: PgPool): Promise<unknown[]> {
  const { rows } = await pg.query<{ mongo_id: string; mongo_id_type: MongoId['type'] }>(
    'SELECT mongo_id, mongo_id_type FROM user_conflicts ORDER BY mongo_id_type, mongo_id',
  );
  return rows.map(({ mongo_id: text, mongo_id_type: type }) => idValue({ text, type }));
}

/** A typed _id's BSON value: MongoDB matches numbers by value whatever their BSON type. */
function idValue(id: MongoId): unknown {
  if (id.type === 'objectId') return new ObjectId(id.text);
  if (id.type === 'string') return id.text;
  const value = Number(id.text);
  return /^-?\d+$/.test(id.text) && !Number.isSafeInteger(value) ? BigInt(id.text) : value;
}
