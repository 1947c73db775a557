import type pg from 'pg';

/** What an import did; counts add up across batches and across a resumed run. */
export interface ImportCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
}

export const ZERO_COUNTS: ImportCounts = { read: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0 };

export function addCounts(a: ImportCounts, b: Partial<ImportCounts>): ImportCounts {
  return {
    read: a.read + (b.read ?? 0),
    inserted: a.inserted + (b.inserted ?? 0),
    updated: a.updated + (b.updated ?? 0),
    unchanged: a.unchanged + (b.unchanged ?? 0),
    rejected: a.rejected + (b.rejected ?? 0),
  };
}

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
