import type pg from 'pg';
import type { Reject } from './import-types.js';

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
