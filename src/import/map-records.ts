import type { Document } from 'bson';
import { canonicalEjson, parseEjson } from '../mongo-values/ejson.js';
import type { MappedBatch, SourceRecord } from './import-source.js';
import type { Item, Reject } from '../write-batch.js';

/** Parses (text) and maps each record; a record that cannot be parsed or mapped becomes a reject naming its position. */
export function mapRecords<Row>(
  collection: string,
  map: (doc: Document) => Row,
  records: readonly SourceRecord[],
): MappedBatch<Row> {
  const items: Item<Row>[] = [];
  const rejects: Reject[] = [];
  for (const record of records) {
    if (record.error !== undefined) {
      rejects.push({ position: record.position, reason: record.error, raw: record.text ?? null });
      continue;
    }
    let doc: Document;
    try {
      doc = record.doc ?? parseEjson(record.text ?? '');
    } catch (error) {
      rejects.push({
        position: record.position,
        reason: `malformed Extended JSON: ${messageOf(error)}`,
        raw: record.text ?? null,
      });
      continue;
    }
    const raw = record.text === undefined ? () => canonicalEjson(doc) : textOf(record.text);
    try {
      items.push({ row: map(doc), position: record.position, raw });
    } catch (error) {
      rejects.push({ position: record.position, reason: `${collection} document: ${messageOf(error)}`, raw: raw() });
    }
  }
  const last = records[records.length - 1]!;
  return { read: records.length, items, rejects, after: last.after, sourceBytes: last.sourceBytes };
}

/** errors.ts's errorMessage, not imported: that module loads BullMQ, which the parse worker does without. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function textOf(text: string): () => string {
  return () => text;
}

/** Groups records into batches of `size` and maps each, in this thread (live sources: documents, not text). */
export async function* mapInProcess<Row>(
  records: AsyncIterable<SourceRecord>,
  collection: string,
  map: (doc: Document) => Row,
  size: number,
): AsyncGenerator<MappedBatch<Row>> {
  let batch: SourceRecord[] = [];
  for await (const record of records) {
    batch.push(record);
    if (batch.length >= size) {
      yield mapRecords(collection, map, batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield mapRecords(collection, map, batch);
}
