/**
 * What verify reports when a copy differs from its source: the first few values that differ,
 * each named down to its column, and how many differ in all. Every comparison (bots, Turso,
 * MongoDB) reports through this one shape, so the report and its JSON read the same everywhere.
 */

/** One value that differs between a source and the copy the pipeline wrote. */
export interface ValueDifference {
  /** The PostgreSQL table (or the Turso table) the copy lives in. */
  table: string;
  /** The row's key as an operator names it: `trade_id=12`, `order_pk=7`, `_id=64f0...`. */
  key: string;
  /** The column, or `(row)` when the whole row is on one side only. */
  column: string;
  /** Canonical text of the source's value; null is SQL NULL, an absent field or a missing row. */
  source: string | null;
  /** Canonical text of the stored value, as above. */
  stored: string | null;
}

/** How many differences a report shows by default (`verify --show-differences N` changes it). */
export const DEFAULT_SHOWN_DIFFERENCES = 10;

/** Collects the differences of one comparison: keeps the first `keep`, counts them all. */
export class DifferenceLog {
  readonly first: ValueDifference[] = [];
  total = 0;

  constructor(private readonly keep: number = DEFAULT_SHOWN_DIFFERENCES) {}

  add(difference: ValueDifference): void {
    this.total += 1;
    if (this.first.length < this.keep) this.first.push(difference);
  }

  get empty(): boolean {
    return this.total === 0;
  }
}

const shown = (value: string | null): string => (value === null ? 'NULL' : JSON.stringify(value));

/** `trades_aggregated trade_id=12 stop_loss: source "0.95", stored "0.9"`. */
export function describeDifference(difference: ValueDifference): string {
  return `${difference.table} ${difference.key} ${difference.column}: source ${shown(difference.source)}, stored ${shown(difference.stored)}`;
}
