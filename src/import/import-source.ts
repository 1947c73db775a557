import type { Document } from 'bson';
import type { SourcePosition } from './checkpoint.js';
import type { Item, Reject } from '../write-batch.js';
import type { CollectionKind } from './targets.js';

/** One document as a source gives it: text to parse (files) or a document (live). */
export interface SourceRecord {
  /** Where it is, as rejects name it: `line 12, byte 3456` or `_id 65a...`. */
  position: string;
  text?: string;
  doc?: Document;
  /** Why the source already knows the document cannot be taken (too big, not UTF-8): a reject. */
  error?: string;
  /** The checkpoint that resumes just after this document. */
  after: SourcePosition;
  /** Bytes of the source read by then, when the source counts them (files: as stored), for progress. */
  sourceBytes?: number;
}

/** A place documents come from: a mongoexport file or a live collection. */
export interface ImportSource {
  /** import_checkpoints key (see checkpoint.ts for its semantics). */
  readonly key: string;
  /** rejects.source_ref and import_checkpoints.source: the absolute file path or mongodb:<db>.<collection>. */
  readonly ref: string;
  /** The position a fresh import starts at. */
  readonly initial: SourcePosition;
  /** Whether an unfinished checkpoint still describes this source (same file). */
  canResume(saved: SourcePosition): boolean;
  records(from: SourcePosition): AsyncIterable<SourceRecord>;
  /**
   * The documents from `from` already parsed and mapped for `collection`, in batches, when the
   * source does that itself (files: in a worker thread); otherwise the importer maps records.
   */
  batches?(from: SourcePosition, collection: CollectionKind, batchSize: number): AsyncIterable<MappedBatch<unknown>>;
  /** Words for the job log, e.g. `at line 1200`. */
  describe(position: SourcePosition): string;
  /** Estimated number of documents in the whole source, for progress, from what is read so far. */
  estimateTotal(read: number, sourceBytes: number | undefined): number | undefined;
}

/** A batch of documents read, mapped, and ready to write: what a checkpoint after it says. */
export interface MappedBatch<Row> {
  /** Documents read: items plus rejects. */
  read: number;
  items: Item<Row>[];
  rejects: Reject[];
  /** The checkpoint that resumes just after the batch. */
  after: SourcePosition;
  /** Bytes of the source read by the end of the batch, when the source counts them (SourceRecord). */
  sourceBytes?: number;
}
