import type { Db, Document, Filter } from 'mongodb';

export interface LiveRecord {
  doc: Document;
}

/**
 * Streams a live collection in _id order from after `afterId`, `batchSize` documents per round
 * trip, so a resumed import continues exactly where its checkpoint says. 64-bit integers come
 * back as bigint (exact). The resume filter `_id > afterId` assumes the _ids are of one BSON
 * type (ObjectIds, as the platform writes them): MongoDB compares values of different types
 * by type order, not value.
 */
export async function* readLiveCollection(
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
export async function estimateCount(db: Db, collection: string): Promise<number | undefined> {
  try {
    return await db.collection(collection).estimatedDocumentCount();
  } catch {
    return undefined;
  }
}
