import { EJSON } from 'bson';
import type { Db, Document, Filter } from 'mongodb';
import { liveImportKey, type SourcePosition } from './checkpoint.js';
import type { ImportSource, SourceRecord } from './import-source.js';
import { bsonType } from '../mongo-values/bson-type.js';
import { showIdValue } from '../mongo-values/bson-values.js';
import { canonicalEjson } from '../mongo-values/ejson.js';

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
          position: `_id ${showIdValue(doc._id)}`,
          doc,
          after: { kind: 'live', lastId: canonicalEjson({ id: doc._id }) },
        };
      }
    },
  };
}

/** The _id a checkpoint's `lastId` (canonical Extended JSON of `{ id }`) holds. */
export function lastIdValue(text: string): unknown {
  return (EJSON.parse(text, { relaxed: false, useBigInt64: true }) as { id: unknown }).id;
}

export interface LiveRecord {
  doc: Document;
}

/**
 * Streams a live collection in _id order from after `afterId`, `batchSize` documents per round
 * trip, so a resumed import continues exactly where its checkpoint says. 64-bit integers come
 * back as bigint (exact). _ids may be of several BSON types: MongoDB sorts them by type first
 * (numbers, strings, objects, binary, ObjectIds, booleans, dates, ...), and `$gt` compares only
 * within a type, so the resume filter also takes every _id of a type not sorted at or before
 * afterId's. Aliases FerretDB does not know (minKey, decimal, symbol, maxKey) are left out of
 * that list: their _ids are read again rather than skipped.
 */
export async function* readLiveCollection(
  db: Db,
  collection: string,
  options: { afterId: unknown; batchSize: number; filter?: Filter<Document> },
): AsyncGenerator<LiveRecord> {
  // _ids of any BSON type: the driver's Filter type assumes ObjectIds.
  const after = (
    options.afterId === undefined
      ? {}
      : {
          $or: [{ _id: { $gt: options.afterId } }, { _id: { $not: { $type: typesUpTo(options.afterId) } } }],
        }
  ) as Filter<Document>;
  const filter = options.filter === undefined ? after : { $and: [options.filter, after] };
  const cursor = db
    .collection(collection)
    .find(filter, { sort: { _id: 1 }, batchSize: options.batchSize, useBigInt64: true });
  try {
    for await (const doc of cursor) yield { doc };
  } finally {
    await cursor.close();
  }
}

/** $type aliases of MongoDB's sort order of types, one group per place in the order. */
const TYPE_ORDER: readonly (readonly string[])[] = [
  ['null'],
  ['double', 'int', 'long'],
  ['string'],
  ['object'],
  ['array'],
  ['binData'],
  ['objectId'],
  ['bool'],
  ['date'],
  ['timestamp'],
  ['regex'],
];

/** The $type aliases sorted at or before `id`'s type. */
function typesUpTo(id: unknown): string[] {
  const place = TYPE_ORDER.findIndex((aliases) => aliases.includes(typeAlias(id)));
  return TYPE_ORDER.slice(0, place === -1 ? 1 : place + 1).flat();
}

function typeAlias(id: unknown): string {
  if (id === null) return 'null';
  if (typeof id === 'number' || typeof id === 'bigint') return 'double';
  if (typeof id === 'string') return 'string';
  if (typeof id === 'boolean') return 'bool';
  if (id instanceof Date) return 'date';
  if (Array.isArray(id)) return 'array';
  switch (bsonType(id)) {
    case undefined:
      return id instanceof RegExp ? 'regex' : 'object';
    case 'Int32':
    case 'Long':
    case 'Double':
    case 'Decimal128':
      return 'double';
    case 'BSONSymbol':
      return 'string';
    case 'Binary':
      return 'binData';
    case 'ObjectId':
      return 'objectId';
    case 'Timestamp':
      return 'timestamp';
    case 'BSONRegExp':
      return 'regex';
    default:
      return 'unknown'; // MinKey, MaxKey, Code, ...: everything but null _ids is read again
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
