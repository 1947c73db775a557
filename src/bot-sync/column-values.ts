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
/** PostgreSQL's INTEGER columns (timeframe, orders.trade_id). */
const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;
/** Far beyond any price or amount, well within what NUMERIC takes (it overflows near 10^131072). */
const MAX_EXPONENT = 1000;
/** Text PostgreSQL cannot hold (NUL) or that is no valid Unicode (a lone surrogate). */
const UNSTORABLE_TEXT = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A date that exists, as FreqTrade writes them: `YYYY-MM-DD HH:MM:SS` (or a `T` between), an
 * optional fraction of 1 to 9 digits, nothing else; a date PostgreSQL would refuse (2024-02-30,
 * 25:00) is none. Read character by character: this runs for every date of every row, and a
 * regular expression with its captured strings cost several times more.
 */
export function realDate(text: string): boolean {
  const length = text.length;
  // 19 characters without a fraction; a fraction is a dot and 1 to 9 digits.
  if (length !== 19 && (length < 21 || length > 29)) return false;
  if (
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    (text.charCodeAt(10) !== SPACE && text.charCodeAt(10) !== LETTER_T) ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  )
    return false;
  if (length > 19 && (text.charCodeAt(19) !== DOT || digitsAt(text, 20, length - 20) < 0)) return false;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  // digitsAt gives -1 for a non-digit, which every lower bound below refuses.
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59)
    return false;
  if (second < 0 || second > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DASH = 45;
const SPACE = 32;
const LETTER_T = 84;
const COLON = 58;
const DOT = 46;
const DIGIT_0 = 48;

/** The decimal number of `count` ASCII digits at `start`; -1 if any of them is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
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
