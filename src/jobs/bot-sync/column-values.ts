import type { ColumnKind, TableMapping } from './freqtrade-columns.js';

/**
 * Which source column feeds which PostgreSQL column, and how a SQLite value becomes that
 * column's text. Shared by the sync (row-encoder: COPY lines) and verify (row-normalizer), so
 * both read a FreqTrade row the same way.
 */
export interface ColumnPlan {
  readonly mapping: TableMapping;
  /** PostgreSQL column -> the source column it is read from (absent: NULL). */
  readonly sourceOf: ReadonlyMap<string, string>;
  /** Source columns kept in `extra`. */
  readonly extraColumns: readonly string[];
  /** [PostgreSQL column, kind, source column or undefined], in the mapping's order (one pass per row). */
  readonly fields: ReadonlyArray<readonly [string, ColumnKind, string | undefined]>;
}

/** Decides, once per table and run, which source column feeds which PostgreSQL column. */
export function planColumns(mapping: TableMapping, sourceColumns: readonly string[]): ColumnPlan {
  const present = new Set(sourceColumns);
  const sourceOf = new Map<string, string>();
  const used = new Set<string>([mapping.key.source]);
  for (const target of Object.keys(mapping.columns)) {
    const candidates = [
      target,
      ...Object.entries(mapping.targetNames)
        .filter(([, t]) => t === target)
        .map(([s]) => s),
      ...Object.entries(mapping.renames)
        .filter(([, t]) => t === target)
        .map(([s]) => s),
    ];
    const found = candidates.find((c) => present.has(c));
    if (found !== undefined) {
      sourceOf.set(target, found);
      used.add(found);
    }
  }
  // An old name next to its new one (a half-migrated database) is read as the new one; the old stays in extra.
  const extraColumns = sourceColumns.filter((c) => !used.has(c));
  const fields = Object.entries(mapping.columns).map(([target, kind]) => [target, kind, sourceOf.get(target)] as const);
  return { mapping, sourceOf, extraColumns, fields };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const NAIVE_DATE = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;

/** A value that does not fit its column (text in a numeric column, ...): kept in `extra`, not dropped. */
export const INVALID = Symbol('invalid');

export type Converter = (raw: unknown) => string | typeof INVALID;

/**
 * A non-null SQLite value as the column's PostgreSQL input text: numbers as exact decimal text
 * (nothing rounded), booleans as t/f, FreqTrade's naive UTC dates as they are.
 */
export const converters: Record<ColumnKind, Converter> = {
  numeric(raw) {
    if (typeof raw === 'number')
      return Number.isFinite(raw) ? String(raw) : raw > 0 ? 'Infinity' : raw < 0 ? '-Infinity' : 'NaN';
    if (typeof raw === 'bigint') return raw.toString();
    if (typeof raw === 'string' && DECIMAL.test(raw.trim())) return raw.trim();
    return INVALID;
  },
  int(raw) {
    if (typeof raw === 'bigint') return raw.toString();
    if (typeof raw === 'number' && Number.isInteger(raw)) return String(raw);
    if (typeof raw === 'string' && INTEGER.test(raw.trim())) return raw.trim();
    return INVALID;
  },
  bool(raw) {
    if (typeof raw === 'bigint') return raw === 0n ? 'f' : 't';
    if (typeof raw === 'number') return raw === 0 ? 'f' : 't';
    if (raw === 'true' || raw === '1') return 't';
    if (raw === 'false' || raw === '0') return 'f';
    return INVALID;
  },
  date(raw) {
    // FreqTrade writes naive UTC text; PostgreSQL reads it as UTC.
    return typeof raw === 'string' && NAIVE_DATE.test(raw) ? raw : INVALID;
  },
  text(raw) {
    if (typeof raw === 'string') return raw;
    if (typeof raw === 'bigint' || typeof raw === 'number') return String(raw);
    return INVALID;
  },
};

/** A SQLite value as JSON for `extra`: exact integers, blobs as base64. */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint')
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  if (Buffer.isBuffer(value)) return { $base64: value.toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}
