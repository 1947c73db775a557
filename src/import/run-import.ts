import type pg from 'pg';
import { releaseSessionLock, tryTakeSessionLock } from '../connections/advisory-locks.js';
import { withTransaction } from '../connections/transaction.js';
import { PermanentJobError } from '../errors.js';
import type { RunContext } from '../run-context.js';
import { loadCheckpoint, saveCheckpoint, type SourcePosition } from './checkpoint.js';
import type { ImportSource } from './import-source.js';
import { addCounts, ZERO_COUNTS, type ImportCounts } from './import-counts.js';
import type { MappedBatch } from './import-source.js';
import { mapInProcess } from './map-records.js';
import { insertRejects, writeBatch } from '../write-batch.js';
import type { ImportTarget } from './targets.js';

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
  /** The job importing, as rejects.source and messages name it (default `mongo-import`). */
  job?: string;
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
export async function runImport<Row>(
  ctx: RunContext,
  source: ImportSource,
  target: ImportTarget<Row>,
  options: ImportOptions,
): Promise<ImportResult> {
  const started = Date.now();
  const job = options.job ?? 'mongo-import';
  const client = await ctx.pg.connect();
  let failed = false;
  let locked = false;
  try {
    if (!(await tryTakeSessionLock(client, 'import-source', source.key)))
      throw new Error(
        `${job} ${target.collection}: another import of ${source.ref} is running (${source.key}); retrying later`,
      );
    locked = true;
    const result = await importLocked(ctx, client, source, target, { ...options, job }, started);
    await releaseSessionLock(client, 'import-source', source.key);
    return result;
  } catch (error) {
    failed = true;
    // Let go of the lock now when the session still answers: a dropped session releases it too,
    // but only once the server has noticed, and a retry may come sooner than that.
    // (Each batch's transaction has rolled back already: withTransaction.)
    if (locked) await releaseSessionLock(client, 'import-source', source.key).catch(() => undefined);
    throw error;
  } finally {
    // After a failure the session is dropped rather than pooled: that also releases the lock.
    client.release(failed);
  }
}

async function importLocked<Row>(
  ctx: RunContext,
  client: pg.PoolClient,
  source: ImportSource,
  target: ImportTarget<Row>,
  options: ImportOptions & { job: string },
  started: number,
): Promise<ImportResult> {
  const saved = await loadCheckpoint(client, source.key);
  const resume = saved !== undefined && !saved.completed && source.canResume(saved.position);
  let position: SourcePosition = resume ? saved.position : source.initial;
  let counts: ImportCounts = resume ? saved.counts : ZERO_COUNTS;
  const startedAt = resume ? source.describe(position) : 'start';
  if (saved && !saved.completed && !resume)
    await ctx.log(`checkpoint ${source.key} is for another version of ${source.ref}; starting over`);
  await ctx.log(
    `importing ${target.collection} from ${source.ref}, ${resume ? `resuming ${startedAt} with ${counts.read} documents done` : 'from the start'}`,
  );
  const rejectTarget = {
    source: options.job,
    collection: target.collection,
    sourceRef: source.ref,
    jobId: ctx.jobId,
  };
  let lastLog = Date.now();

  const write = async ({ read, items, rejects, after, sourceBytes }: MappedBatch<Row>) => {
    counts = await withTransaction(client, async (tx) => {
      // Safe to lose on a server crash: the checkpoint is lost with the data, and the retry redoes both.
      await tx.query('SET LOCAL synchronous_commit = off');
      const outcome = await writeBatch(tx, target.upsert, items);
      const allRejects = [...rejects, ...outcome.rejects];
      await insertRejects(tx, rejectTarget, allRejects);
      const next = addCounts(counts, {
        read,
        inserted: outcome.inserted,
        updated: outcome.updated,
        rejected: allRejects.length,
        unchanged: items.length - outcome.inserted - outcome.updated - outcome.rejects.length,
      });
      await saveCheckpoint(tx, {
        key: source.key,
        collection: target.collection,
        source: source.ref,
        position: after,
        counts: next,
        completed: false,
      });
      return next;
    });
    position = after;
    await ctx.progress({ done: counts.read, total: source.estimateTotal(counts.read, sourceBytes) ?? counts.read });
    if (Date.now() - lastLog >= LOG_EVERY_MS) {
      lastLog = Date.now();
      await ctx.log(`${target.collection}: ${countsText(counts)}, now ${source.describe(position)}`);
    }
    if (counts.read >= EARLY_RATIO_SAMPLE) checkRatio(options, target.collection, source, counts);
  };

  // Files are parsed and mapped in a worker thread; live documents here, while the previous batch is written.
  const batches = (source.batches?.(position, target.collection, options.batchSize) ??
    mapInProcess(source.records(position), target.collection, target.map, options.batchSize)) as AsyncIterable<
    MappedBatch<Row>
  >;
  // One batch in PostgreSQL while the next is read and mapped: the two use different cores.
  let inFlight: Promise<void> = Promise.resolve();
  try {
    for await (const batch of batches) {
      await inFlight;
      if (ctx.signal.aborted) {
        throw new Error(
          `${options.job} ${target.collection} from ${source.ref} aborted ${source.describe(position)}; a retry resumes there`,
        );
      }
      inFlight = write(batch);
      inFlight.catch(() => undefined); // awaited by the next batch; not an unhandled rejection meanwhile
    }
  } finally {
    await inFlight.catch(() => undefined); // never leave a query running on the client being released
  }
  await inFlight;
  await saveCheckpoint(client, {
    key: source.key,
    collection: target.collection,
    source: source.ref,
    position,
    counts,
    completed: true,
  });
  const result: ImportResult = {
    ...counts,
    ms: Date.now() - started,
    collection: target.collection,
    source: source.ref,
    startedAt,
  };
  await ctx.log(`imported ${target.collection} from ${source.ref}: ${countsText(counts)} in ${result.ms} ms`);
  checkRatio(options, target.collection, source, counts);
  return result;
}

function checkRatio(
  options: { job: string; maxRejectRatio: number },
  collection: string,
  source: ImportSource,
  counts: ImportCounts,
): void {
  const maxRatio = options.maxRejectRatio;
  if (counts.read === 0 || counts.rejected / counts.read <= maxRatio) return;
  throw new PermanentJobError(
    `${options.job} ${collection} from ${source.ref}: ${counts.rejected} of ${counts.read} documents rejected, ` +
      `more than IMPORT_MAX_REJECT_RATIO=${maxRatio}; see the rejects table (source_ref ${source.ref})`,
  );
}

function countsText(c: ImportCounts): string {
  return `${c.read} read, ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.rejected} rejected`;
}
