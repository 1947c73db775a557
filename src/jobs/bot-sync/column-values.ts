import { MAX_KEY, type ColumnKind, type TableMapping } from './freqtrade-columns.js';

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
  /** Every PostgreSQL column in the mapping's order (one pass per row). */
  readonly fields: readonly PlannedField[];
}

export interface PlannedField {
  readonly target: string;
  readonly kind: ColumnKind;
  /** The source column it is read from; undefined: the source has none (NULL). */
  readonly source: string | undefined;
  /** The column's converter, with its limits (VARCHAR length) applied. */
  readonly convert: Converter;
  /** PostgreSQL declares it NOT NULL: a row without a value for it is rejected. */
  readonly notNull: boolean;
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
  const fields = Object.entries(mapping.columns).map(([target, kind]) => ({
    target,
    kind,
    source: sourceOf.get(target),
    convert: converterFor(kind, mapping.maxLengths[target]),
    notNull: mapping.notNull.includes(target),
  }));
  return { mapping, sourceOf, extraColumns, fields };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE]([+-]?\d+))?$/;
const INTEGER = /^[+-]?\d+$/;
const NAIVE_DATE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/;
/** PostgreSQL's INTEGER columns (timeframe, orders.trade_id). */
const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;
/** Far beyond any price or amount, well within what NUMERIC takes (it overflows near 10^131072). */
const MAX_EXPONENT = 1000;
/** Text PostgreSQL cannot hold (NUL) or that is no valid Unicode (a lone surrogate). */
const UNSTORABLE_TEXT = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A date that exists: the pattern alone lets 2024-02-30 and 25:00 through, which PostgreSQL refuses. */
function realDate(text: string): boolean {
  const m = NAIVE_DATE.exec(text);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

function int4(text: string): string | typeof INVALID {
  const value = Number(text);
  return value >= INT4_MIN && value <= INT4_MAX ? text : INVALID;
}

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
    if (typeof raw === 'string') {
      const m = DECIMAL.exec(raw.trim());
      if (m !== null && Math.abs(Number(m[3] ?? 0)) <= MAX_EXPONENT) return raw.trim();
    }
    return INVALID;
  },
  int(raw) {
    if (typeof raw === 'bigint') return raw >= BigInt(INT4_MIN) && raw <= BigInt(INT4_MAX) ? raw.toString() : INVALID;
    if (typeof raw === 'number' && Number.isInteger(raw)) return int4(String(raw));
    if (typeof raw === 'string' && INTEGER.test(raw.trim())) return int4(raw.trim());
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
    return typeof raw === 'string' && realDate(raw) ? raw : INVALID;
  },
  text(raw) {
    if (typeof raw === 'string') return UNSTORABLE_TEXT.test(raw) ? INVALID : raw;
    if (typeof raw === 'bigint' || typeof raw === 'number') return String(raw);
    return INVALID;
  },
};

/** The kind's converter; a text longer than the column's VARCHAR length does not fit it either. */
export function converterFor(kind: ColumnKind, maxLength: number | undefined): Converter {
  const convert = converters[kind];
  if (maxLength === undefined) return convert;
  return (raw) => {
    const text = convert(raw);
    // length counts UTF-16 units, never fewer than PostgreSQL's characters: count those only when it matters.
    if (text === INVALID || text.length <= maxLength) return text;
    return [...text].length <= maxLength ? text : INVALID;
  };
}

/** A SQLite value as JSON for `extra`: exact integers, blobs as base64. */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint')
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  if (Buffer.isBuffer(value)) return { $base64: value.toString('base64') };
  // jsonb refuses \u0000 and lone surrogates: such text is kept as its UTF-16 code units, base64.
  if (typeof value === 'string' && UNSTORABLE_TEXT.test(value))
    return { $utf16le: Buffer.from(value, 'utf16le').toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** The row's key as a number, or why it cannot be one (such a row goes to rejects, never to a guess). */
export function readKey(column: string, raw: unknown): number | { problem: string } {
  if (raw === null || raw === undefined) return { problem: `${column} is NULL` };
  if (typeof raw === 'bigint' || (typeof raw === 'number' && Number.isInteger(raw))) {
    if (raw >= -MAX_KEY && raw <= MAX_KEY) return Number(raw);
    return { problem: `${column} ${raw} is outside the range of PostgreSQL's INTEGER key (±${MAX_KEY})` };
  }
  return { problem: `${column} ${describeRaw(raw)} is not an integer` };
}

/** Why a row cannot be kept although its key is fine: a NOT NULL column without a value that fits. */
export function missingRequired(field: PlannedField, raw: unknown): string {
  if (raw === null || raw === undefined)
    return `column ${field.source ?? field.target} is NULL, which ${field.target} requires`;
  return `column ${field.source ?? field.target}: ${describeRaw(raw)} is not a valid ${field.kind} for ${field.target}, which requires one`;
}

/** A raw value for a message: short, with its SQLite type when it is not text. */
export function describeRaw(raw: unknown): string {
  if (typeof raw === 'string') {
    const shown = JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw);
    return shown;
  }
  if (Buffer.isBuffer(raw)) return `a ${raw.length}-byte blob`;
  return String(raw);
}
