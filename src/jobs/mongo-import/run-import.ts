import type { Document } from 'bson';
import type pg from 'pg';
import { PermanentJobError, errorMessage } from '../../errors.js';
import type { JobContext } from '../job.js';
import { loadCheckpoint, saveCheckpoint, type SourcePosition } from './checkpoint.js';
import { canonicalEjson, parseEjson } from './ejson.js';
import type { ImportSource, SourceRecord } from './import-source.js';
import { addCounts, ZERO_COUNTS, type ImportCounts, type Item, type Reject } from './import-types.js';
import { insertRejects } from './rejects.js';
import type { ImportTarget } from './targets.js';
import { writeBatch } from './write-batch.js';

export interface ImportResult extends ImportCounts {
  ms: number;
  collection: string;
  source: string;
  /** Where this run started: `start`, or the checkpoint it resumed from. */
  startedAt: string;
}

export interface ImportOptions {
  batchSize: number;
  maxRejectRatio: number;
}

/** A ratio checked early only past this many documents, so a few bad lines at the top cannot fail a big import. */
const EARLY_RATIO_SAMPLE = 10_000;
const LOG_EVERY_MS = 5_000;

/**
 * Imports one source into one table in batches. Each batch (upserts, rejects and checkpoint)
 * is one transaction, so a job killed at any point resumes on retry from its last committed
 * batch and ends with exactly the right rows. A session advisory lock on the import key keeps
 * two jobs from importing the same source at once.
 */
export async function runImport<Row>(ctx: JobContext, source: ImportSource, target: ImportTarget<Row>, options: ImportOptions): Promise<ImportResult> {
  const started = Date.now();
  const client = await ctx.pg.connect();
  let failed = false;
  try {
    const locked = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [source.key]);
    if (!locked.rows[0]?.locked) throw new Error(`mongo-import ${target.collection}: another import of ${source.ref} is running (${source.key}); retrying later`);
    const result = await importLocked(ctx, client, source, target, options, started);
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [source.key]);
    return result;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // After a failure the session is dropped rather than pooled: that also releases the lock.
    client.release(failed);
  }
}

async function importLocked<Row>(
  ctx: JobContext,
  client: pg.PoolClient,
  source: ImportSource,
  target: ImportTarget<Row>,
  options: ImportOptions,
  started: number,
): Promise<ImportResult> {
  const saved = await loadCheckpoint(client, source.key);
  const resume = saved !== undefined && !saved.completed && source.canResume(saved.position);
  let position: SourcePosition = resume ? saved.position : source.initial;
  let counts: ImportCounts = resume ? saved.counts : ZERO_COUNTS;
  const startedAt = resume ? source.describe(position) : 'start';
  if (saved && !saved.completed && !resume) await ctx.log(`checkpoint ${source.key} is for another version of ${source.ref}; starting over`);
  await ctx.log(`importing ${target.collection} from ${source.ref}, ${resume ? `resuming ${startedAt} with ${counts.read} documents done` : 'from the start'}`);
  const rejectTarget = { source: 'mongo-import', collection: target.collection, sourceRef: source.ref, jobId: ctx.jobId };
  let lastLog = Date.now();

  const write = async (records: SourceRecord[], { items, rejects }: { items: Item<Row>[]; rejects: Reject[] }) => {
    await client.query('BEGIN');
    try {
      // Safe to lose on a server crash: the checkpoint is lost with the data, and the retry redoes both.
      await client.query('SET LOCAL synchronous_commit = off');
      const outcome = await writeBatch(client, target.upsert, items);
      const allRejects = [...rejects, ...outcome.rejects];
      await insertRejects(client, rejectTarget, allRejects);
      const next = addCounts(counts, {
        read: records.length,
        inserted: outcome.inserted,
        updated: outcome.updated,
        rejected: allRejects.length,
        unchanged: items.length - outcome.inserted - outcome.updated - outcome.rejects.length,
      });
      const after = records[records.length - 1]!.after;
      await saveCheckpoint(client, { key: source.key, collection: target.collection, source: source.ref, position: after, counts: next, completed: false });
      await client.query('COMMIT');
      counts = next;
      position = after;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await ctx.progress({ done: counts.read, total: source.estimateTotal(counts.read) ?? counts.read });
    if (Date.now() - lastLog >= LOG_EVERY_MS) {
      lastLog = Date.now();
      await ctx.log(`${target.collection}: ${countsText(counts)}, now ${source.describe(position)}`);
    }
    if (counts.read >= EARLY_RATIO_SAMPLE) checkRatio(target.collection, source, counts, options.maxRejectRatio);
  };

  // One batch in PostgreSQL while the next is read and mapped: the two use different cores.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async (records: SourceRecord[]) => {
    const mapped = mapRecords(target, records);
    await inFlight;
    if (ctx.signal.aborted) {
      throw new Error(`mongo-import ${target.collection} from ${source.ref} aborted ${source.describe(position)}; a retry resumes there`);
    }
    inFlight = write(records, mapped);
    inFlight.catch(() => undefined); // awaited by the next flush; not an unhandled rejection meanwhile
  };
  let batch: SourceRecord[] = [];
  try {
    for await (const record of source.records(position)) {
      batch.push(record);
      if (batch.length >= options.batchSize) {
        await flush(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await flush(batch);
  } finally {
    await inFlight.catch(() => undefined); // never leave a query running on the client being released
  }
  await inFlight;
  await saveCheckpoint(client, { key: source.key, collection: target.collection, source: source.ref, position, counts, completed: true });
  const result: ImportResult = { ...counts, ms: Date.now() - started, collection: target.collection, source: source.ref, startedAt };
  await ctx.log(`imported ${target.collection} from ${source.ref}: ${countsText(counts)} in ${result.ms} ms`);
  checkRatio(target.collection, source, counts, options.maxRejectRatio);
  return result;
}

function mapRecords<Row>(target: ImportTarget<Row>, records: readonly SourceRecord[]): { items: Item<Row>[]; rejects: Reject[] } {
  const items: Item<Row>[] = [];
  const rejects: Reject[] = [];
  for (const record of records) {
    let doc: Document;
    try {
      doc = record.doc ?? parseEjson(record.text ?? '');
    } catch (error) {
      rejects.push({ position: record.position, reason: `malformed Extended JSON: ${errorMessage(error)}`, raw: record.text ?? null });
      continue;
    }
    const raw = () => record.text ?? canonicalEjson(doc);
    try {
      items.push({ row: target.map(doc), position: record.position, raw });
    } catch (error) {
      rejects.push({ position: record.position, reason: `${target.collection} document: ${errorMessage(error)}`, raw: raw() });
    }
  }
  return { items, rejects };
}

function checkRatio(collection: string, source: ImportSource, counts: ImportCounts, maxRatio: number): void {
  if (counts.read === 0 || counts.rejected / counts.read <= maxRatio) return;
  throw new PermanentJobError(
    `mongo-import ${collection} from ${source.ref}: ${counts.rejected} of ${counts.read} documents rejected, ` +
      `more than IMPORT_MAX_REJECT_RATIO=${maxRatio}; see the rejects table (source_ref ${source.ref})`,
  );
}

function countsText(c: ImportCounts): string {
  return `${c.read} read, ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.rejected} rejected`;
}
