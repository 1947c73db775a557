import { hash as digest } from 'node:crypto';
import { INVALID, jsonSafe, missingRequired, planColumns, readKey, type Converter } from './column-values.js';
import type { ColumnKind, TableMapping } from './freqtrade-columns.js';
import { COPY_NULL, copyEscape } from './copy-text.js';

/**
 * Turns a FreqTrade row (as better-sqlite3 returns it in raw mode: values in column order,
 * integers as bigint) into a COPY line: key, the mapped columns in the mapping's order, `extra`
 * (jsonb) and the row's hash (md5 of the rest of the line: what PostgreSQL compares to know a
 * row changed). Decided once per table and run, applied per row, so the per-row work is a few
 * string operations.
 */
export interface RowEncoder {
  /** Staging columns with their PostgreSQL types, in line order. */
  readonly columns: ReadonlyArray<readonly [string, string]>;
  /**
   * The COPY line of a row and its key; `problem` says why the row cannot be kept at all (a key
   * that is no usable integer, a NOT NULL column without a value): such a row goes to rejects.
   */
  encode(row: readonly unknown[]): { key: number | null; line: string; parent: number | null; problem?: string };
}

const PG_TYPES: Record<ColumnKind, string> = {
  int: 'bigint',
  numeric: 'numeric',
  text: 'text',
  bool: 'boolean',
  date: 'timestamp',
};

function escaped(convert: Converter): Converter {
  return (raw) => {
    const text = convert(raw);
    return text === INVALID ? text : copyEscape(text);
  };
}

/** `sourceColumns`: the statement's columns in order (SELECT * of the FreqTrade table). */
export function createRowEncoder(mapping: TableMapping, sourceColumns: readonly string[]): RowEncoder {
  const index = new Map(sourceColumns.map((name, i) => [name, i]));
  const plan = planColumns(mapping, sourceColumns);
  const fields = plan.fields.map((field) => ({
    name: field.target,
    at: field.source === undefined ? undefined : index.get(field.source),
    // Text is the one kind whose values can hold COPY's special characters.
    convert: field.kind === 'text' ? escaped(field.convert) : field.convert,
    source: field.source ?? field.target,
    planned: field,
  }));
  // `"name":` of each extra column, JSON-escaped once; the per-row JSON is then string pieces.
  const extraPrefixes = plan.extraColumns.map((name) => [`${JSON.stringify(name)}:`, index.get(name) ?? -1] as const);
  const keyAt = index.get(mapping.key.source);
  const parentAt = fields.findIndex((f) => f.name === 'trade_id');
  const columns: Array<readonly [string, string]> = [
    [mapping.key.target, 'bigint'],
    ...Object.entries(mapping.columns).map(([name, kind]) => [name, PG_TYPES[kind]] as const),
    ['extra', 'jsonb'],
    ['row_hash', 'text'],
  ];
  return {
    columns,
    encode(row) {
      const read = readKey(mapping.key.source, keyAt === undefined ? undefined : row[keyAt]);
      if (typeof read !== 'number') return { key: null, line: '', parent: null, problem: read.problem };
      const key = read;
      const parts: string[] = [String(key)];
      let invalid: Record<string, unknown> | undefined;
      let parent: number | null = null;
      for (let f = 0; f < fields.length; f++) {
        const field = fields[f]!;
        const raw = field.at === undefined ? null : row[field.at];
        if (raw === null || raw === undefined) {
          if (field.planned.notNull)
            return { key, line: '', parent: null, problem: missingRequired(field.planned, raw) };
          parts.push(COPY_NULL);
          continue;
        }
        const text = field.convert(raw);
        if (text === INVALID && field.planned.notNull)
          return { key, line: '', parent: null, problem: missingRequired(field.planned, raw) };
        if (text === INVALID) {
          // A value that does not fit its column (text in a numeric column, ...) is kept, not dropped.
          (invalid ??= {})[`invalid:${field.source}`] = jsonSafe(raw);
          parts.push(COPY_NULL);
        } else {
          parts.push(text);
          if (f === parentAt) parent = Number(text);
        }
      }
      let json = '';
      for (const [prefix, at] of extraPrefixes) {
        const value = row[at];
        const text =
          value === null || value === undefined
            ? 'null'
            : typeof value === 'number' && Number.isFinite(value)
              ? String(value)
              : JSON.stringify(jsonSafe(value));
        json += json === '' ? prefix + text : `,${prefix}${text}`;
      }
      if (invalid !== undefined) {
        const more = JSON.stringify(invalid).slice(1, -1);
        json = json === '' ? more : `${json},${more}`;
      }
      parts.push(copyEscape(`{${json}}`));
      const body = parts.join('\t');
      const hash = digest('md5', body); // one-shot: cheaper than createHash per row
      return { key, line: `${body}\t${hash}\n`, parent };
    },
  };
}
