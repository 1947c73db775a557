import { EJSON } from 'bson';
import { idText } from '../../mongo-values/bson-values.js';
import { liveImportKey, type SourcePosition } from '../../import/checkpoint.js';
import { canonicalEjson } from '../../mongo-values/ejson.js';
import type { ImportSource, SourceRecord } from '../../import/import-source.js';
import type { Db, Document, Filter } from 'mongodb';

/** A live MongoDB collection, read in _id order, as an import source. The checkpoint keeps the last _id as canonical EJSON. */
export async function openLiveSource(
  collection: string,
  db: Db,
  mongoCollection: string,
  batchSize: number,
): Promise<ImportSource> {
  const total = await estimateCount(db, mongoCollection);
  return {
    key: liveImportKey(collection, db.databaseName, mongoCollection),
    ref: `mongodb:${db.databaseName}.${mongoCollection}`,
    initial: { kind: 'live', lastId: null },
    canResume: (saved) => saved.kind === 'live',
    describe: (position) =>
      position.kind === 'live' && position.lastId !== null ? `after _id ${position.lastId}` : 'start',
    estimateTotal: (read) => (total === undefined ? undefined : Math.max(read, total)),
    async *records(from: SourcePosition): AsyncGenerator<SourceRecord> {
      const afterId = from.kind === 'live' && from.lastId !== null ? lastIdValue(from.lastId) : undefined;
      for await (const { doc } of readLiveCollection(db, mongoCollection, { afterId, batchSize })) {
        yield {
          position: `_id ${positionId(doc._id)}`,
          doc,
          after: { kind: 'live', lastId: canonicalEjson({ id: doc._id }) },
        };
      }
    },
  };
}

function lastIdValue(text: string): unknown {
  return (EJSON.parse(text, { relaxed: false, useBigInt64: true }) as { id: unknown }).id;
}

function positionId(id: unknown): string {
  try {
    return idText('_id', id) ?? canonicalEjson(id);
  } catch {
    return canonicalEjson(id);
  }
}

interface LiveRecord {
  doc: Document;
}

/**
 * Streams a live collection in _id order from after `afterId`, `batchSize` documents per round
 * trip, so a resumed import continues exactly where its checkpoint says. 64-bit integers come
 * back as bigint (exact). The resume filter `_id > afterId` assumes the _ids are of one BSON
 * type (ObjectIds, as the platform writes them): MongoDB compares values of different types
 * by type order, not value.
 */
async function* readLiveCollection(
  db: Db,
  collection: string,
  options: { afterId: unknown; batchSize: number },
): AsyncGenerator<LiveRecord> {
  // _ids of any BSON type: the driver's Filter type assumes ObjectIds.
  const filter = (options.afterId === undefined ? {} : { _id: { $gt: options.afterId } }) as Filter<Document>;
  const cursor = db
    .collection(collection)
    .find(filter, { sort: { _id: 1 }, batchSize: options.batchSize, useBigInt64: true });
  try {
    for await (const doc of cursor) yield { doc };
  } finally {
    await cursor.close();
  }
}

/** The collection's size as the server estimates it, for progress; undefined if it cannot say. */
async function estimateCount(db: Db, collection: string): Promise<number | undefined> {
  try {
    return await db.collection(collection).estimatedDocumentCount();
  } catch {
    return undefined;
  }
}
