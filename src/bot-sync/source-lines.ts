import { hash as digest } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { BotSyncContext } from './sync-context.js';
import type { BotDatabase } from './bot-database.js';
import { jsonSafe, INVALID, missingRequired, planColumns, readKey, type Converter } from './column-values.js';
import { MAX_KEY, type ColumnKind, type TableMapping } from './freqtrade-columns.js';

export type EncodedRow = ReturnType<RowEncoder['encode']>;

/** A source row the sync cannot take, and why; it goes to `rejects`, never silently away. */
export interface RowReject {
  table: string;
  rowid: bigint;
  reason: string;
  /** The row as JSON (column -> value), so nothing of it is lost. */
  raw: string;
}

/**
 * A FreqTrade table as COPY text, in rowid order: one short SQLite read per chunk of
 * SYNC_BATCH_SIZE rows (FreqTrade's writer is never kept waiting), cancellation checked between
 * chunks, progress reported. Every read starts after the last rowid read, so the reader always
 * advances whatever the key column holds. A row whose key is unusable (not an integer, out of
 * range, NULL, or a repeat of an earlier row's) or that lacks a required value is pushed to
 * `rejects` instead. `keep` drops rows (an order of a missing trade, ...); `prefix` goes before
 * every line (the bot's id, for a COPY straight into the bot's tables); `lineKeys` receives
 * each line's key, so an error PostgreSQL reports for a COPY line can name its row.
 */
export async function* readLines(
  ctx: BotSyncContext,
  source: BotDatabase,
  mapping: TableMapping,
  encoder: RowEncoder,
  progress: { done: number; total: number },
  rejects: RowReject[],
  options: {
    keep?: (row: EncodedRow) => boolean;
    prefix?: string;
    lineKeys?: { push(key: number): void };
    /** Only the rows of a change window. */
    window?: { where: string; params: readonly unknown[] };
  } = {},
): AsyncGenerator<Buffer> {
  const size = ctx.config.SYNC_BATCH_SIZE;
  const keyColumn = mapping.key.source;
  const duplicates = source.duplicateKeys(mapping.source, keyColumn);
  const firstWith = new Map<number, bigint>();
  const columns = source.columnsOf(mapping.source);
  const reject = (row: readonly unknown[], rowid: bigint, reason: string): void => {
    const raw: Record<string, unknown> = {};
    columns.forEach((name, i) => (raw[name] = jsonSafe(row[i])));
    rejects.push({ table: mapping.source, rowid, reason, raw: JSON.stringify(raw) });
  };
  let after = -(2n ** 63n);
  let chunk = new CopyChunk(64 * 1024);
  for (;;) {
    if (ctx.signal.aborted) throw new Error(`bot ${source.bot}: sync aborted`);
    // Rows are visited as SQLite returns them and become garbage at once; their lines go
    // straight into the chunk's buffer (outside the JavaScript heap), so what a chunk leaves
    // behind for the garbage collector is small.
    const read = source.eachInChunk(mapping.source, after, size, options.window, (row) => {
      const rowid = row[row.length - 1] as bigint;
      after = rowid;
      const encoded = encoder.encode(row);
      if (encoded.problem !== undefined) {
        reject(row, rowid, encoded.key === null ? encoded.problem : `${keyColumn} ${encoded.key}: ${encoded.problem}`);
        return;
      }
      const key = encoded.key!;
      if (duplicates.has(key)) {
        const first = firstWith.get(key);
        if (first !== undefined) {
          reject(
            row,
            rowid,
            `${keyColumn} ${key} is duplicated: the row at rowid ${first} has it too and is the one taken`,
          );
          return;
        }
        firstWith.set(key, rowid);
      }
      if (options.keep && !options.keep(encoded)) return;
      options.lineKeys?.push(key);
      if (options.prefix !== undefined) chunk.append(options.prefix);
      chunk.append(encoded.line);
    });
    if (read === 0) return;
    progress.done += read;
    await ctx.progress({ ...progress });
    if (chunk.size > 0) {
      yield chunk.bytes();
      // The next chunk's buffer starts at about this one's size: one allocation per chunk.
      chunk = new CopyChunk(Math.ceil(chunk.size * 1.1));
    }
    if (read < size) return;
  }
}

/** COPY text gathered as UTF-8 bytes in one buffer that grows as lines come. */
class CopyChunk {
  private buffer: Buffer;
  size = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  append(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const needed = this.size + text.length * 3;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, needed));
      this.buffer.copy(grown, 0, 0, this.size);
      this.buffer = grown;
    }
    this.size += this.buffer.write(text, this.size);
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.size);
  }
}

/**
 * Records the rows a sync could not take, in its transaction, replacing the bot's earlier such
 * rejects (a row fixed since is no reject any more): all of them, or with `reread` those of the
 * rows read again (a change window's rowids), or of the tables read whole (no rowids). Returns
 * how many were recorded.
 */
export async function recordRowRejects(
  client: PoolClient,
  bot: string,
  file: string,
  rejects: readonly RowReject[],
  reread?: ReadonlyArray<{ table: string; rowids?: readonly number[] }>,
): Promise<number> {
  if (reread === undefined)
    await client.query(
      `DELETE FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%' AND position LIKE 'rowid %'`,
      [bot],
    );
  else {
    const whole = reread.filter((r) => r.rowids === undefined).map((r) => r.table);
    const rows = reread.flatMap(({ table, rowids }) => (rowids ?? []).map((rowid) => ({ table, rowid })));
    if (whole.length > 0)
      await client.query(
        `DELETE FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%' AND collection = ANY($2) AND position LIKE 'rowid %'`,
        [bot, whole],
      );
    if (rows.length > 0 || whole.length === 0)
      await client.query(
        `DELETE FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%'
       AND (collection, position) IN (SELECT t, 'rowid ' || r FROM unnest($2::text[], $3::bigint[]) AS x(t, r))`,
        [bot, rows.map((r) => r.table), rows.map((r) => r.rowid)],
      );
  }
  if (rejects.length === 0) return 0;
  await client.query(
    `INSERT INTO rejects (source, collection, source_ref, position, reason, raw)
     SELECT 'bot-sync', t, $1, 'rowid ' || r, $2 || t || ', rowid ' || r || ': ' || why, raw
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS x(t, r, why, raw)
     ON CONFLICT (source, collection, source_ref, position) DO UPDATE SET reason = EXCLUDED.reason, raw = EXCLUDED.raw`,
    [
      `${bot}:${file}`,
      `bot ${bot}: ${file}: table `,
      rejects.map((r) => r.table),
      rejects.map((r) => r.rowid.toString()),
      rejects.map((r) => r.reason),
      rejects.map((r) => r.raw),
    ],
  );
  return rejects.length;
}

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

/**
 * A bot's row keys (PostgreSQL INTEGERs, so each fits 32 bits) in a growing Int32Array: 4 bytes a
 * key where a JavaScript array or Set of a million-trade bot's keys takes tens of megabytes and
 * keeps the heap large for the whole sync.
 */
export class KeyList {
  private keys = new Int32Array(1024);
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(key: number): void {
    if (!Number.isInteger(key) || key < -MAX_KEY || key > MAX_KEY)
      throw new RangeError(`key ${key} is not a PostgreSQL INTEGER`);
    if (this.size === this.keys.length) {
      const grown = new Int32Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    this.keys[this.size++] = key;
  }

  /** The index-th key pushed (negative: from the end), as Array.prototype.at. */
  at(index: number): number | undefined {
    const i = index < 0 ? this.size + index : index;
    return i >= 0 && i < this.size ? this.keys[i] : undefined;
  }

  /** The keys pushed so far as a set to look keys up in (sorted once, then binary search). */
  toSet(): KeySet {
    return new KeySet(this.keys.slice(0, this.size).sort());
  }
}

export class KeySet {
  constructor(private readonly sorted: Int32Array) {}

  has(key: number): boolean {
    let low = 0;
    let high = this.sorted.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.sorted[middle]!;
      if (value === key) return true;
      if (value < key) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }
}

/**
 * PostgreSQL COPY text format: one line per row, columns separated by tabs, NULL as \N, and
 * backslash, tab, newline and carriage return escaped in values.
 */
export const COPY_NULL = '\\N';

const SPECIAL = /[\\\t\n\r]/;

export function copyEscape(text: string): string {
  if (!SPECIAL.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
