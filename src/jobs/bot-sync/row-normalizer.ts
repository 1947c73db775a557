import { INVALID, jsonSafe, missingRequired, readKey, type ColumnPlan } from './column-values.js';

/** A source row as PostgreSQL should hold it (verify compares the two). */
export interface NormalizedRow {
  readonly key: number;
  /** PostgreSQL column -> its input text (numbers exact, booleans t/f), or null. */
  readonly values: Record<string, string | null>;
  /** Source columns the schema does not name, plus values that did not fit their column. */
  readonly extra: Record<string, unknown>;
}

/** Raised for a row the sync rejects (a key that is no usable integer, a NOT NULL column without a value). */
export class RejectedRowError extends Error {}

export function normalizeRow(plan: ColumnPlan, row: Record<string, unknown>): NormalizedRow {
  const key = readKey(plan.mapping.key.source, row[plan.mapping.key.source]);
  if (typeof key !== 'number') throw new RejectedRowError(`${plan.mapping.source}: ${key.problem}`);
  const values: Record<string, string | null> = {};
  const extra: Record<string, unknown> = {};
  for (const field of plan.fields) {
    const { target, source } = field;
    const raw = source === undefined ? null : row[source];
    const text = raw === null || raw === undefined ? null : field.convert(raw);
    if (field.notNull && (text === null || text === INVALID))
      throw new RejectedRowError(`${plan.mapping.source}: ${missingRequired(field, raw)}`);
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
