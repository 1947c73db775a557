import { hash as digest } from 'node:crypto';
import { converters, INVALID, jsonSafe, planColumns, type Converter } from './column-values.js';
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
  /** The COPY line of a row, and its key (null when the key is unusable: such a row is rejected). */
  encode(row: readonly unknown[]): { key: number | null; line: string; parent: number | null };
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
  const fields = plan.fields.map(([name, kind, source]) => ({
    name,
    at: source === undefined ? undefined : index.get(source),
    // Text is the one kind whose values can hold COPY's special characters.
    convert: kind === 'text' ? escaped(converters.text) : converters[kind],
    source: source ?? name,
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
      const rawKey = keyAt === undefined ? undefined : row[keyAt];
      const key = typeof rawKey === 'bigint' || typeof rawKey === 'number' ? Number(rawKey) : Number.NaN;
      const parts: string[] = [Number.isSafeInteger(key) ? String(key) : COPY_NULL];
      let invalid: Record<string, unknown> | undefined;
      let parent: number | null = null;
      for (let f = 0; f < fields.length; f++) {
        const field = fields[f]!;
        const raw = field.at === undefined ? null : row[field.at];
        if (raw === null || raw === undefined) {
          parts.push(COPY_NULL);
          continue;
        }
        const text = field.convert(raw);
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
      return { key: Number.isSafeInteger(key) ? key : null, line: `${body}\t${hash}\n`, parent };
    },
  };
}
