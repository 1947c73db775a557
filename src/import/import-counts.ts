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
