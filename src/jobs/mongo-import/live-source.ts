import { EJSON } from 'bson';
import type { Db } from 'mongodb';
import { idText } from './bson-values.js';
import { liveImportKey, type SourcePosition } from './checkpoint.js';
import { canonicalEjson } from './ejson.js';
import type { ImportSource, SourceRecord } from './import-source.js';
import { estimateCount, readLiveCollection } from './live-collection.js';

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
