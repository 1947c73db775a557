import type pg from 'pg';
import { errorMessage } from './errors.js';

/** A document that could not be taken: where it was, why, and its text as read. */
export interface Reject {
  position: string;
  reason: string;
  raw: string | null;
}

/** A mapped row with where it came from, so a row the database refuses becomes a reject. */
export interface Item<Row> {
  row: Row;
  position: string;
  raw: () => string;
}

/** What one upsert of a batch did. Rows neither inserted, updated nor rejected were unchanged. */
export interface UpsertOutcome {
  inserted: number;
  updated: number;
  rejects: Reject[];
}

/** Writes one batch of mapped rows inside the caller's transaction. */
export type Upsert<Row> = (client: pg.ClientBase, items: readonly Item<Row>[]) => Promise<UpsertOutcome>;

/**
 * Runs a batch's upsert; when PostgreSQL refuses a value (a data exception or constraint
 * violation: a NUL in a string, a number out of range, an email taken meanwhile), finds the
 * rows at fault one by one under savepoints, rejects them and keeps the others. Other errors
 * (connection lost, ...) propagate: the transaction is rolled back and the job retried.
 */
export async function writeBatch<Row>(
  client: pg.ClientBase,
  upsert: Upsert<Row>,
  items: readonly Item<Row>[],
): Promise<UpsertOutcome> {
  if (items.length === 0) return { inserted: 0, updated: 0, rejects: [] };
  await client.query('SAVEPOINT batch_rows');
  try {
    const outcome = await upsert(client, items);
    await client.query('RELEASE SAVEPOINT batch_rows');
    return outcome;
  } catch (error) {
    if (!isRowError(error)) throw error;
    await client.query('ROLLBACK TO SAVEPOINT batch_rows');
  }
  const total: UpsertOutcome = { inserted: 0, updated: 0, rejects: [] };
  for (const item of items) {
    await client.query('SAVEPOINT one_row');
    try {
      const outcome = await upsert(client, [item]);
      await client.query('RELEASE SAVEPOINT one_row');
      total.inserted += outcome.inserted;
      total.updated += outcome.updated;
      total.rejects.push(...outcome.rejects);
    } catch (error) {
      if (!isRowError(error)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT one_row');
      const reject: Reject = {
        position: item.position,
        reason: `PostgreSQL refused the row: ${errorMessage(error)}`,
        raw: item.raw(),
      };
      total.rejects.push(reject);
    }
  }
  return total;
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint violation). */
function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
export interface RejectTarget {
  source: string;
  collection: string;
  sourceRef: string;
  jobId: string | undefined;
}

/**
 * Records rejects in the batch's transaction. A re-run rejects the same positions again: the
 * row is kept, with the latest reason, so running an import twice leaves one row per position.
 */
export async function insertRejects(
  client: pg.ClientBase,
  target: RejectTarget,
  rejects: readonly Reject[],
): Promise<void> {
  if (rejects.length === 0) return;
  const unique = [...new Map(rejects.map((r) => [r.position, r])).values()]; // one row per position
  await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason, raw, job_id)
     SELECT $1, $2, $3, p, r, w, $4 FROM unnest($5::text[], $6::text[], $7::text[]) AS t(p, r, w)
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason, raw = EXCLUDED.raw,
       job_id = EXCLUDED.job_id, created_at = now()
     WHERE (rejects.reason, rejects.raw) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.raw)`,
    [
      target.source,
      target.collection,
      target.sourceRef,
      target.jobId ?? null,
      unique.map((r) => r.position),
      unique.map((r) => withoutNul(r.reason)),
      unique.map((r) => (r.raw === null ? null : withoutNul(r.raw))),
    ],
  );
}

/** PostgreSQL text cannot hold NUL; a reject must land whatever its raw text holds. */
function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}
