import { hash as digest } from 'node:crypto';
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

const PG_TYPES: Record<ColumnKind, string> = { int: 'bigint', numeric: 'numeric', text: 'text', bool: 'boolean', date: 'timestamp' };
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const NAIVE_DATE = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;
const INVALID = Symbol('invalid');

type Converter = (raw: unknown) => string | typeof INVALID;

const converters: Record<ColumnKind, Converter> = {
  numeric(raw) {
    if (typeof raw === 'number') return Number.isFinite(raw) ? String(raw) : raw > 0 ? 'Infinity' : raw < 0 ? '-Infinity' : 'NaN';
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
    // FreqTrade writes naive UTC text; the merge reads it as `timestamp` AT TIME ZONE 'UTC'.
    return typeof raw === 'string' && NAIVE_DATE.test(raw) ? raw : INVALID;
  },
  text(raw) {
    if (typeof raw === 'string') return copyEscape(raw);
    if (typeof raw === 'bigint' || typeof raw === 'number') return String(raw);
    return INVALID;
  },
};

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return { $base64: value.toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** `sourceColumns`: the statement's columns in order (SELECT * of the FreqTrade table). */
export function createRowEncoder(mapping: TableMapping, sourceColumns: readonly string[]): RowEncoder {
  const index = new Map(sourceColumns.map((name, i) => [name, i]));
  const used = new Set<string>([mapping.key.source]);
  const fields: Array<{ name: string; at: number | undefined; convert: Converter; source: string }> = [];
  for (const [target, kind] of Object.entries(mapping.columns)) {
    const candidates = [
      target,
      ...Object.entries(mapping.targetNames).filter(([, t]) => t === target).map(([s]) => s),
      ...Object.entries(mapping.renames).filter(([, t]) => t === target).map(([s]) => s),
    ];
    const source = candidates.find((c) => index.has(c));
    if (source !== undefined) used.add(source);
    fields.push({ name: target, at: source === undefined ? undefined : index.get(source), convert: converters[kind], source: source ?? target });
  }
  // An old name next to its new one (a half-migrated database) is read as the new one; the old stays in extra.
  const extras = sourceColumns.map((name, i) => [name, i] as const).filter(([name]) => !used.has(name));
  // `"name":` of each extra column, JSON-escaped once; the per-row JSON is then string pieces.
  const extraPrefixes = extras.map(([name, at]) => [`${JSON.stringify(name)}:`, at] as const);
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
        const text = value === null || value === undefined ? 'null' : typeof value === 'number' && Number.isFinite(value) ? String(value) : JSON.stringify(jsonSafe(value));
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
