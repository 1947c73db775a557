import type { ColumnKind, TableMapping } from './freqtrade-columns.js';

/** A source row as PostgreSQL should hold it (verify compares the two): numbers as decimal text, so nothing is rounded. */
export interface NormalizedRow {
  readonly key: number;
  /** PostgreSQL column -> value (numbers as decimal text, so nothing is rounded on the way). */
  readonly values: Record<string, string | boolean | null>;
  /** Source columns the schema does not name, plus values that did not fit their column. */
  readonly extra: Record<string, unknown>;
}

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
      ...Object.entries(mapping.targetNames).filter(([, t]) => t === target).map(([s]) => s),
      ...Object.entries(mapping.renames).filter(([, t]) => t === target).map(([s]) => s),
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

type Converted = { ok: true; value: string | boolean | null } | { ok: false };

function convert(kind: ColumnKind, raw: unknown): Converted {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  switch (kind) {
    case 'numeric':
      if (typeof raw === 'bigint') return { ok: true, value: raw.toString() };
      if (typeof raw === 'number') return { ok: true, value: Number.isFinite(raw) ? String(raw) : raw > 0 ? 'Infinity' : raw < 0 ? '-Infinity' : 'NaN' };
      if (typeof raw === 'string' && DECIMAL.test(raw.trim())) return { ok: true, value: raw.trim() };
      return { ok: false };
    case 'int':
      if (typeof raw === 'bigint') return { ok: true, value: raw.toString() };
      if (typeof raw === 'number' && Number.isInteger(raw)) return { ok: true, value: String(raw) };
      if (typeof raw === 'string' && INTEGER.test(raw.trim())) return { ok: true, value: raw.trim() };
      return { ok: false };
    case 'bool':
      if (typeof raw === 'bigint' || typeof raw === 'number') return { ok: true, value: Number(raw) !== 0 };
      if (raw === 'true' || raw === '1') return { ok: true, value: true };
      if (raw === 'false' || raw === '0') return { ok: true, value: false };
      return { ok: false };
    case 'date':
      // FreqTrade writes naive UTC text; PostgreSQL reads it as `timestamp` and we say it is UTC.
      if (typeof raw === 'string' && NAIVE_DATE.test(raw)) return { ok: true, value: raw };
      return { ok: false };
    case 'text':
      if (typeof raw === 'string') return { ok: true, value: raw };
      if (typeof raw === 'bigint' || typeof raw === 'number') return { ok: true, value: String(raw) };
      return { ok: false };
  }
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return { $base64: value.toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** Raised for a row whose key is not an integer: such a row cannot be addressed, so it is rejected. */
export class UnkeyedRowError extends Error {}

export function normalizeRow(plan: ColumnPlan, row: Record<string, unknown>): NormalizedRow {
  const keyRaw = row[plan.mapping.key.source];
  const key = typeof keyRaw === 'bigint' || typeof keyRaw === 'number' ? Number(keyRaw) : Number.NaN;
  if (!Number.isSafeInteger(key)) throw new UnkeyedRowError(`${plan.mapping.source}.${plan.mapping.key.source} is ${String(keyRaw)}`);
  const values: Record<string, string | boolean | null> = {};
  const extra: Record<string, unknown> = {};
  for (const [target, kind, source] of plan.fields) {
    if (source === undefined) {
      values[target] = null;
      continue;
    }
    const converted = convert(kind, row[source]);
    if (converted.ok) {
      values[target] = converted.value;
    } else {
      // A value that does not fit its column (text in a numeric column, ...) is kept, not dropped.
      values[target] = null;
      extra[`invalid:${source}`] = jsonSafe(row[source]);
    }
  }
  for (const column of plan.extraColumns) extra[column] = jsonSafe(row[column]);
  return { key, values, extra };
}
