import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ZERO_COUNTS, type ImportCounts } from './import-counts.js';

/**
 * Where an import stands, one row per import key in import_checkpoints.
 *
 * The key names the collection and the source: `users:live:<db>.<collection>` or
 * `users:file:<sha256 of the absolute path, 16 hex>`. Semantics:
 * - written in the same transaction as each batch, so it never runs ahead of the data;
 * - while `completed_at` is NULL a run of the same key resumes from `position` (a crashed or
 *   aborted job's retry, or a new job for the same source), with the counts so far;
 * - once completed, the next run of the key starts again from the beginning (a re-import, which
 *   changes nothing if the source has not changed);
 * - a file whose size or modification time differs from the checkpoint's is a new file: start over.
 */
export type SourcePosition =
  | { kind: 'file'; offset: number; line: number; format: 'lines' | 'array'; size: number; mtimeMs: number }
  | { kind: 'live'; lastId: string | null }
  /**
   * user-reconcile: the run reads users changed at or after `scanFrom` (all when null) and the
   * parked ones, in _id order, resuming after `lastId`. `highest` is the latest updatedAt read
   * so far (MongoDB's dates, never this host's clock), kept from run to run: once completed,
   * the next run reads from it less a margin. Checkpoints of older versions hold `since` (their
   * host's clock at the run's start) instead, taken once as the watermark.
   */
  | { kind: 'reconcile'; scanFrom?: string | null; lastId?: string | null; highest?: string | null; since?: string };

export interface Checkpoint {
  position: SourcePosition;
  counts: ImportCounts;
  completed: boolean;
}

export function liveImportKey(collection: string, database: string, mongoCollection: string): string {
  return `${collection}:live:${database}.${mongoCollection}`;
}

export function fileImportKey(collection: string, absolutePath: string): string {
  return `${collection}:file:${createHash('sha256').update(absolutePath).digest('hex').slice(0, 16)}`;
}

export async function loadCheckpoint(client: pg.Pool | pg.ClientBase, key: string): Promise<Checkpoint | undefined> {
  const result = await client.query<{ position: SourcePosition; counts: Partial<ImportCounts>; completed: boolean }>(
    'SELECT position, counts, completed_at IS NOT NULL AS completed FROM import_checkpoints WHERE import_key = $1',
    [key],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return { position: row.position, counts: { ...ZERO_COUNTS, ...row.counts }, completed: row.completed };
}

export async function saveCheckpoint(
  client: pg.ClientBase,
  checkpoint: {
    key: string;
    collection: string;
    source: string;
    position: SourcePosition;
    counts: ImportCounts;
    completed: boolean;
  },
): Promise<void> {
  await client.query(
    `INSERT INTO import_checkpoints (import_key, collection, source, position, counts, completed_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::boolean THEN now() END, now())
     ON CONFLICT (import_key) DO UPDATE SET collection = EXCLUDED.collection, source = EXCLUDED.source,
       position = EXCLUDED.position, counts = EXCLUDED.counts, completed_at = EXCLUDED.completed_at, updated_at = now()`,
    [
      checkpoint.key,
      checkpoint.collection,
      checkpoint.source,
      JSON.stringify(checkpoint.position),
      JSON.stringify(checkpoint.counts),
      checkpoint.completed,
    ],
  );
}
