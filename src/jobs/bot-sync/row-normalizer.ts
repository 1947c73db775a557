import { converters, INVALID, jsonSafe, type ColumnPlan } from './column-values.js';

/** A source row as PostgreSQL should hold it (verify compares the two). */
export interface NormalizedRow {
  readonly key: number;
  /** PostgreSQL column -> its input text (numbers exact, booleans t/f), or null. */
  readonly values: Record<string, string | null>;
  /** Source columns the schema does not name, plus values that did not fit their column. */
  readonly extra: Record<string, unknown>;
}

/** Raised for a row whose key is not an integer: such a row cannot be addressed, so it is rejected. */
export class UnkeyedRowError extends Error {}

export function normalizeRow(plan: ColumnPlan, row: Record<string, unknown>): NormalizedRow {
  const keyRaw = row[plan.mapping.key.source];
  const key = typeof keyRaw === 'bigint' || typeof keyRaw === 'number' ? Number(keyRaw) : Number.NaN;
  if (!Number.isSafeInteger(key))
    throw new UnkeyedRowError(`${plan.mapping.source}.${plan.mapping.key.source} is ${String(keyRaw)}`);
  const values: Record<string, string | null> = {};
  const extra: Record<string, unknown> = {};
  for (const [target, kind, source] of plan.fields) {
    const raw = source === undefined ? null : row[source];
    const text = raw === null || raw === undefined ? null : converters[kind](raw);
    if (text === INVALID) {
      values[target] = null;
      extra[`invalid:${source}`] = jsonSafe(raw);
    } else {
      values[target] = text;
    }
  }
  for (const column of plan.extraColumns) extra[column] = jsonSafe(row[column]);
  return { key, values, extra };
}
