import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { PgPool } from '../connections/postgres.js';
import type { BotDatabase } from '../bot-sync/bot-database.js';
import type { ColumnKind, TableMapping } from '../bot-sync/freqtrade-columns.js';
import { createRowEncoder, KeyList, type EncodedRow, type RowEncoder } from '../bot-sync/source-lines.js';
import { canonicalDecimal } from './canonical-decimal.js';
import type { DifferenceLog } from './differences.js';

/**
 * A bot's table compared value by value: its FreqTrade rows, read and encoded by the sync's own
 * row encoder (source-lines.ts: the very COPY line bot-sync would write), against the PostgreSQL
 * rows, both streamed in key order and merged like a merge-join. Memory stays bounded: a chunk of
 * source rows, PostgreSQL's COPY stream, and the trade keys (4 bytes each) that tell orphan orders.
 */

/** Rows on each side of one table. */
export interface TableSide {
  count: number;
}

/** One row: its key and every column bot-sync writes, in the encoder's order (extra last), as text or NULL. */
interface Row {
  key: number;
  fields: Array<string | null>;
}

/** What comparing one table found (its differences went to the log). */
export interface TableComparison {
  source: TableSide;
  target: TableSide;
  differences: number;
  /** Source rows the sync rejects: unusable key, required value missing, repeated key. */
  rejectedRows: number;
  /** Orders whose trade is not among the source's trades (the sync records them in rejects). */
  orphans: number;
  /** The keys of the source rows compared (trades: what tells an order from an orphan). */
  keys: KeyList;
}

/**
 * Compares one table of a bot. `keep` decides which usable source rows PostgreSQL should hold
 * (orders: those of an existing trade); the others are counted as orphans.
 */
export async function compareTable(
  source: BotDatabase,
  pg: PgPool,
  /** Undefined: the bot was never synced, PostgreSQL holds none of its rows. */
  botId: string | undefined,
  mapping: TableMapping,
  chunkSize: number,
  log: DifferenceLog,
  keep?: (row: EncodedRow) => boolean,
): Promise<TableComparison> {
  const encoder = createRowEncoder(mapping, source.columnsOf(mapping.source));
  const kinds: ColumnKind[] = ['int', ...Object.values(mapping.columns)];
  const names = [mapping.key.target, ...Object.keys(mapping.columns)];
  const result: TableComparison = {
    source: { count: 0 },
    target: { count: 0 },
    differences: 0,
    rejectedRows: source.countNonNumericKeys(mapping.source, mapping.key.source),
    orphans: 0,
    keys: new KeyList(),
  };
  const add = (key: number, column: string, sourceValue: string | null, stored: string | null): void => {
    result.differences += 1;
    log.add({ table: mapping.target, key: `${mapping.key.target}=${key}`, column, source: sourceValue, stored });
  };
  const sourceRows = readSourceRows(source, mapping, encoder, chunkSize, result, keep);
  const client = await pg.connect();
  const copy = client.query(copyTo(storedRowsSql(mapping, botId)));
  let broken = false;
  try {
    const storedRows = readStoredRows(copy);
    let s = sourceRows.next();
    let t = await storedRows.next();
    for (;;) {
      const from = s.done ? undefined : s.value;
      const to = t.done ? undefined : t.value;
      if (from === undefined && to === undefined) break;
      if (from !== undefined && (to === undefined || from.key < to.key)) {
        add(from.key, '(row)', 'present', null);
        s = sourceRows.next();
        continue;
      }
      result.target.count += 1;
      if (to !== undefined && (from === undefined || to.key < from.key)) {
        add(to.key, '(row)', null, 'present');
      } else if (from !== undefined && to !== undefined) {
        for (let i = 1; i < kinds.length; i++) {
          // The same text is the same value; only texts that differ are spelled canonically.
          if (from.fields[i] === to.fields[i]) continue;
          const a = canonical(kinds[i]!, from.fields[i]!);
          const b = canonical(kinds[i]!, to.fields[i]!);
          if (a !== b) add(from.key, names[i]!, a, b);
        }
        compareJsonMembers('extra', from.fields[kinds.length]!, to.fields[kinds.length]!, (column, a, b) =>
          add(from.key, column, a, b),
        );
        s = sourceRows.next();
      }
      t = await storedRows.next();
    }
  } catch (error) {
    broken = true;
    copy.destroy();
    throw error;
  } finally {
    client.release(broken);
  }
  return result;
}

/** Each usable source row in key order, as the COPY line bot-sync writes for it, a chunk per short read. */
function* readSourceRows(
  source: BotDatabase,
  mapping: TableMapping,
  encoder: RowEncoder,
  chunkSize: number,
  counts: TableComparison,
  keep: ((row: EncodedRow) => boolean) | undefined,
): Generator<Row> {
  const keyColumn = mapping.key.source;
  const keyAt = source.columnsOf(mapping.source).indexOf(keyColumn);
  const duplicates = source.duplicateKeys(mapping.source, keyColumn);
  let previous: number | undefined;
  let after: { key: unknown; rowid: bigint } | undefined;
  for (;;) {
    const chunk: Row[] = [];
    const read = source.eachInKeyOrder(mapping.source, keyColumn, after, chunkSize, (raw) => {
      after = { key: raw[keyAt], rowid: raw[raw.length - 1] as bigint };
      const encoded = encoder.encode(raw);
      if (encoded.problem !== undefined) {
        counts.rejectedRows += 1;
        return;
      }
      const key = encoded.key!;
      // Rows of one key come in rowid order: the sync takes the first, rejects the others.
      if (key === previous && duplicates.has(key)) {
        counts.rejectedRows += 1;
        return;
      }
      previous = key;
      if (keep && !keep(encoded)) {
        counts.orphans += 1;
        return;
      }
      counts.source.count += 1;
      counts.keys.push(key);
      chunk.push({ key, fields: encoded.line.slice(0, -1).split('\t').slice(0, -1).map(copyField) });
    });
    yield* chunk;
    if (read < chunkSize) return;
  }
}

/** The bot's rows as PostgreSQL holds them, every column bot-sync writes, dates as naive UTC text. */
function storedRowsSql(mapping: TableMapping, botId: string | undefined): string {
  if (botId !== undefined && !/^[0-9a-f-]{36}$/i.test(botId)) throw new Error(`bot id ${botId} is not a UUID`);
  const columns = Object.entries(mapping.columns).map(([name, kind]) =>
    kind === 'date' ? `to_char("${name}" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')` : `"${name}"`,
  );
  const key = mapping.key.target;
  return `COPY (SELECT "${key}", ${columns.join(', ')}, extra FROM ${mapping.target} WHERE ${botId === undefined ? 'false' : `bot_id = '${botId}'`} ORDER BY "${key}") TO STDOUT`;
}

async function* readStoredRows(stream: AsyncIterable<Buffer>): AsyncGenerator<Row> {
  let rest: Buffer | undefined;
  for await (const chunk of stream) {
    const buffer = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let start = 0;
    for (let end = buffer.indexOf(10, start); end !== -1; end = buffer.indexOf(10, start)) {
      const fields = buffer.toString('utf8', start, end).split('\t').map(copyField);
      yield { key: Number(fields[0]), fields };
      start = end + 1;
    }
    rest = start < buffer.length ? buffer.subarray(start) : undefined;
  }
}

const COPY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** A field of PostgreSQL's COPY text format: `\N` is NULL, backslash escapes undone. */
function copyField(text: string): string | null {
  if (text === '\\N') return null;
  if (!text.includes('\\')) return text;
  return text.replace(/\\(.)/gs, (_, c: string) => COPY_ESCAPES[c] ?? c);
}

/** A value's one spelling for comparison: numbers exact decimals, dates UTC at microseconds. */
function canonical(kind: ColumnKind, text: string | null): string | null {
  if (text === null) return null;
  if (kind === 'numeric' || kind === 'int') return canonicalDecimal(text);
  if (kind === 'date') return canonicalDate(text);
  return text; // text as it is, booleans t/f on both sides
}

/**
 * FreqTrade's naive UTC date text as PostgreSQL stores it: `YYYY-MM-DD HH:MM:SS.ffffff`, the
 * fraction rounded to microseconds the way PostgreSQL's input does (rint of the fraction read as
 * a double, times a million: half to even), a carry moving the seconds on.
 */
export function canonicalDate(text: string): string {
  const match = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(text);
  if (!match) return text;
  const [, year, month, day, hour, minute, second, fraction] = match;
  const scaled = fraction === undefined ? 0 : Number(`0.${fraction}`) * 1_000_000;
  let micros = Math.round(scaled);
  if (Math.abs(scaled % 1) === 0.5 && micros % 2 !== 0) micros -= 1; // half to even, as rint
  let date = `${year}-${month}-${day} ${hour}:${minute}:${second}`;
  if (micros === 1_000_000) {
    micros = 0;
    const next = new Date(0);
    next.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
    next.setUTCHours(Number(hour), Number(minute), Number(second) + 1);
    const two = (n: number): string => String(n).padStart(2, '0');
    date = `${String(next.getUTCFullYear()).padStart(4, '0')}-${two(next.getUTCMonth() + 1)}-${two(next.getUTCDate())} ${two(next.getUTCHours())}:${two(next.getUTCMinutes())}:${two(next.getUTCSeconds())}`;
  }
  return `${date}.${String(micros).padStart(6, '0')}`;
}

/**
 * A JSON column key by key (column `<name>.<key>`, e.g. `extra.leverage_tier`): each value as
 * canonical JSON, a key on one side only as NULL; a side that is no object, the whole column.
 */
export function compareJsonMembers(
  name: string,
  source: string | null,
  stored: string | null,
  differ: (column: string, source: string | null, stored: string | null) => void,
): void {
  if (source === stored) return;
  const a = jsonMembers(source);
  const b = jsonMembers(stored);
  if (a === undefined || b === undefined) {
    const [x, y] = [canonicalJson(source), canonicalJson(stored)];
    if (x !== y) differ(name, x, y);
    return;
  }
  if (a.size === b.size && [...a].every(([key, value]) => b.get(key) === value)) return;
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const [x, y] = [a.get(key) ?? null, b.get(key) ?? null];
    if (x !== y) differ(`${name}.${key}`, x, y);
  }
}

/** A JSON object's members, each value canonical; undefined when the text is no object. */
function jsonMembers(text: string | null): Map<string, string> | undefined {
  if (text === null) return undefined;
  const reader = new CanonicalJson(text);
  return reader.peek() === OPEN_BRACE ? reader.members() : undefined;
}

/** JSON in one spelling: object keys sorted, numbers as exact decimals, strings re-encoded. */
export function canonicalJson(text: string | null): string | null {
  return text === null ? null : new CanonicalJson(text).value();
}

const code = (c: string): number => c.charCodeAt(0);
const [OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [code('{'), code('}'), code('['), code(']')];
const [QUOTE, BACKSLASH, COMMA, COLON_CODE] = [code('"'), code('\\'), code(','), code(':')];
const LITERAL_OR_NUMBER = /true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/** A number already in canonicalDecimal's spelling (the usual case): no exponent, no needless zero. */
const PLAIN_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;

/**
 * A small JSON reader that keeps numbers as their digits (JSON.parse would round them to
 * doubles). It runs for every row's `extra` on both sides, so it scans character codes.
 */
class CanonicalJson {
  private at = 0;
  constructor(private readonly text: string) {}

  /** The next character code after white space (NaN at the end). */
  peek(): number {
    let c = this.text.charCodeAt(this.at);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = this.text.charCodeAt(++this.at);
    return c;
  }

  value(): string {
    const c = this.peek();
    if (c === OPEN_BRACE) {
      const members = this.members();
      const sorted = [...members.keys()].sort();
      return `{${sorted.map((k) => `${JSON.stringify(k)}:${members.get(k)!}`).join(',')}}`;
    }
    if (c === OPEN_BRACKET) {
      this.at += 1;
      const items: string[] = [];
      if (this.peek() === CLOSE_BRACKET) this.at += 1;
      else
        for (;;) {
          items.push(this.value());
          if (this.expect(COMMA, CLOSE_BRACKET) === CLOSE_BRACKET) break;
        }
      return `[${items.join(',')}]`;
    }
    if (c === QUOTE) {
      const token = this.string();
      // Without an escape the token is already JSON.stringify's spelling of its text.
      return token.includes('\\') ? JSON.stringify(JSON.parse(token) as string) : token;
    }
    LITERAL_OR_NUMBER.lastIndex = this.at;
    const token = LITERAL_OR_NUMBER.exec(this.text)?.[0];
    if (token === undefined) throw new Error(`not JSON at ${this.at}: ${this.text.slice(this.at, this.at + 20)}`);
    this.at += token.length;
    const first = token.charCodeAt(0);
    if (first !== 45 && (first < 48 || first > 57)) return token; // true, false, null
    return PLAIN_NUMBER.test(token) && token !== '-0' ? token : canonicalDecimal(token);
  }

  members(): Map<string, string> {
    const members = new Map<string, string>();
    this.expect(OPEN_BRACE, OPEN_BRACE);
    if (this.peek() === CLOSE_BRACE) {
      this.at += 1;
      return members;
    }
    for (;;) {
      this.peek();
      const token = this.string();
      const key = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
      this.expect(COLON_CODE, COLON_CODE);
      members.set(key, this.value());
      if (this.expect(COMMA, CLOSE_BRACE) === CLOSE_BRACE) return members;
    }
  }

  /** The string token at the reader, quotes included. */
  private string(): string {
    const start = this.at;
    let i = start + 1;
    for (let c = this.text.charCodeAt(i); c !== QUOTE && i < this.text.length; c = this.text.charCodeAt(i))
      i += c === BACKSLASH ? 2 : 1;
    this.at = i + 1;
    return this.text.slice(start, i + 1);
  }

  private expect(one: number, other: number): number {
    const c = this.peek();
    if (c !== one && c !== other)
      throw new Error(`not JSON at ${this.at}: expected ${String.fromCharCode(one)} or ${String.fromCharCode(other)}`);
    this.at += 1;
    return c;
  }
}

/** Source rows the bot's last sync recorded in rejects as unusable (a bad key, a required value missing). */
export async function recordedRowRejects(pg: PgPool, bot: string): Promise<number> {
  const { rows } = await pg.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%' AND position LIKE 'rowid %'`,
    [bot],
  );
  return rows[0]?.n ?? 0;
}

/** The bot's PostgreSQL id, undefined when it was never synced. */
export async function botIdOf(pg: PgPool | PoolClient, bot: string): Promise<string | undefined> {
  const { rows } = await pg.query<{ id: string }>('SELECT id FROM bots WHERE instance_id = $1', [bot]);
  return rows[0]?.id;
}
