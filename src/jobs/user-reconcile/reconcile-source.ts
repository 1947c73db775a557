import type { Db, Document, Filter } from 'mongodb';
import type { PgPool } from '../../connections/postgres.js';
import { loadCheckpoint, type SourcePosition } from '../../import/checkpoint.js';
import type { ImportSource, SourceRecord } from '../../import/import-source.js';
import { lastIdValue, readLiveCollection } from '../../import/live-source.js';
import { showIdValue } from '../../mongo-values/bson-values.js';
import { canonicalEjson } from '../../mongo-values/ejson.js';

type ReconcilePosition = Extract<SourcePosition, { kind: 'reconcile' }>;

/** The reconcile source as opened, and the time its scan reads from (null: every user). */
export interface ReconcileSource {
  source: ImportSource;
  scanFrom: string | null;
}

/**
 * The users of a live collection changed at or after the start of the last completed reconcile
 * (less `overlapMs`), in _id order, as an import source run by runImport like any import. Its
 * checkpoint (key `users:reconcile:<db>.<collection>`) says where the run is; once completed, its
 * `since` (this run's start) is the next run's watermark. A failed run resumes after its last
 * committed _id with the same scan, and keeps the older watermark, so no change is missed.
 */
export async function openReconcileSource(
  pg: PgPool,
  db: Db,
  collection: string,
  options: { overlapMs: number; batchSize: number },
): Promise<ReconcileSource> {
  const key = `users:reconcile:${db.databaseName}.${collection}`;
  const saved = await loadCheckpoint(pg, key);
  const watermark = saved?.position.kind === 'reconcile' ? saved.position.since : undefined;
  const resuming = saved !== undefined && !saved.completed && saved.position.kind === 'reconcile';
  const initial: ReconcilePosition =
    resuming && saved.position.kind === 'reconcile'
      ? { ...saved.position, lastId: null }
      : {
          kind: 'reconcile',
          since: new Date().toISOString(),
          scanFrom: watermark === undefined ? null : new Date(Date.parse(watermark) - options.overlapMs).toISOString(),
          lastId: null,
        };
  const scanFrom = initial.scanFrom ?? null;
  const filter = (
    scanFrom === null
      ? undefined
      : { $or: [{ updatedAt: { $gte: new Date(scanFrom) } }, { updated_at: { $gte: new Date(scanFrom) } }] }
  ) as Filter<Document> | undefined;
  const source: ImportSource = {
    key,
    ref: `mongodb:${db.databaseName}.${collection}`,
    initial,
    canResume: (position) => position.kind === 'reconcile' && position.since === initial.since,
    describe: (position) =>
      position.kind === 'reconcile' && position.lastId ? `after _id ${position.lastId}` : 'start',
    estimateTotal: () => undefined,
    async *records(from: SourcePosition): AsyncGenerator<SourceRecord> {
      const at = from.kind === 'reconcile' ? from : initial;
      const afterId = at.lastId ? lastIdValue(at.lastId) : undefined;
      for await (const { doc } of readLiveCollection(db, collection, {
        afterId,
        batchSize: options.batchSize,
        filter,
      })) {
        yield {
          position: `_id ${showIdValue(doc._id)}`,
          doc,
          after: { ...initial, lastId: canonicalEjson({ id: doc._id }) },
        };
      }
    },
  };
  return { source, scanFrom };
}
