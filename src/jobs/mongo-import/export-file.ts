import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { SourcePosition } from '../../import/checkpoint.js';
import type { SourceRecord } from '../../import/import-source.js';

/** One document's text in a mongoexport file and where it is (bytes of the decompressed text). */
export interface FileRecord {
  text: string;
  /** 1-based line where the document starts. */
  line: number;
  /** Byte offset where it starts, and just after it ends: a checkpoint resumes at `end`. */
  offset: number;
  end: number;
  /** Line number at `end`. */
  nextLine: number;
}

export type ExportFormat = 'lines' | 'array';

export interface FilePosition {
  offset: number;
  line: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];

export async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === GZIP_MAGIC[0] && buffer[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/** `--jsonArray` exports start with `[`; the default ones hold one document per line. */
export async function detectFormat(path: string, gzip: boolean): Promise<ExportFormat> {
  const { stream } = openText(path, gzip, 0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const byte of chunk) {
        if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
        if (byte === 0xef) continue; // a UTF-8 byte order mark
        return byte === 0x5b ? 'array' : 'lines';
      }
    }
    return 'lines';
  } finally {
    stream.destroy();
  }
}

/**
 * Streams the documents of a mongoexport file from `start`, never holding more than a chunk
 * and one document in memory. Resuming a plain file seeks; a gzip file is decompressed from
 * the beginning and the bytes before `start` are skipped.
 */
export async function* readExportFile(
  path: string,
  options: { gzip: boolean; format: ExportFormat; start: FilePosition; onRawBytes?: (bytes: number) => void },
): AsyncGenerator<FileRecord> {
  const { stream, file } = openText(path, options.gzip, options.gzip ? 0 : options.start.offset);
  const splitter = options.format === 'array' ? new ArraySplitter(options.start) : new LineSplitter(options.start);
  let skip = options.gzip ? options.start.offset : 0;
  try {
    for await (const data of stream as AsyncIterable<Buffer>) {
      let chunk = data;
      if (skip > 0) {
        if (chunk.length <= skip) {
          skip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(skip);
        skip = 0;
      }
      options.onRawBytes?.((options.gzip ? 0 : options.start.offset) + file.bytesRead);
      yield* splitter.push(chunk);
    }
    yield* splitter.finish();
  } finally {
    stream.destroy();
    file.destroy();
  }
}

function openText(path: string, gzip: boolean, start: number): { stream: Readable; file: ReadStream } {
  const file = createReadStream(path, { start, highWaterMark: 1 << 18 });
  if (!gzip) return { stream: file, file };
  const gunzip = createGunzip({ chunkSize: 1 << 18 });
  file.on('error', (error) => gunzip.destroy(error));
  return { stream: file.pipe(gunzip), file };
}

/** Where a file import reads: the file as opened, and the position a fresh import starts at. */
export interface FileReadSpec {
  path: string;
  gzip: boolean;
  format: ExportFormat;
  initial: Extract<SourcePosition, { kind: 'file' }>;
}

/** The documents of a mongoexport file from `from`, as import records (text, position, checkpoint after each). */
export async function* fileRecords(
  spec: FileReadSpec,
  from: SourcePosition,
  onRawBytes: (bytes: number) => void,
): AsyncGenerator<SourceRecord> {
  const start = from.kind === 'file' ? { offset: from.offset, line: from.line } : { offset: 0, line: 1 };
  const records = readExportFile(spec.path, { gzip: spec.gzip, format: spec.format, start, onRawBytes });
  for await (const record of records) {
    yield {
      position: `line ${record.line}, byte ${record.offset}`,
      text: record.text,
      after: { ...spec.initial, offset: record.end, line: record.nextLine },
    };
  }
}

/** Splits on newlines; a blank line is skipped but counted. */
class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private pendingOffset: number;
  private line: number;

  constructor(start: FilePosition) {
    this.pendingOffset = start.offset;
    this.line = start.line;
  }

  *push(chunk: Buffer): Generator<FileRecord> {
    const buffer = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let from = 0;
    for (let newline = buffer.indexOf(0x0a, from); newline !== -1; newline = buffer.indexOf(0x0a, from)) {
      const record = this.record(buffer, from, newline, newline + 1);
      if (record) yield record;
      this.line += 1;
      from = newline + 1;
    }
    this.pending = buffer.subarray(from);
    this.pendingOffset += from;
  }

  *finish(): Generator<FileRecord> {
    if (this.pending.length === 0) return;
    const record = this.record(this.pending, 0, this.pending.length, this.pending.length);
    this.pending = Buffer.alloc(0);
    if (record) yield record;
  }

  private record(buffer: Buffer, from: number, to: number, after: number): FileRecord | undefined {
    let end = to;
    if (end > from && buffer[end - 1] === 0x0d) end -= 1;
    const text = buffer.toString('utf8', from, end).replace(/^\uFEFF/, '');
    if (text.trim() === '') return undefined;
    const offset = this.pendingOffset + from;
    return {
      text,
      line: this.line,
      offset,
      end: this.pendingOffset + after,
      nextLine: this.line + (after > to ? 1 : 0),
    };
  }
}
/**
 * Splits a `--jsonArray` export into its elements by scanning bytes (braces, brackets, strings
 * and escapes; UTF-8 continuation bytes never look like ASCII), whatever its line breaks.
 */
class ArraySplitter {
  private pending: Buffer = Buffer.alloc(0);
  private pendingOffset: number;
  private line: number;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Index in `pending` where the current element starts, -1 between elements. */
  private elementStart = -1;
  private elementLine = 0;
  private scanned = 0;

  constructor(start: FilePosition) {
    this.pendingOffset = start.offset;
    this.line = start.line;
  }

  *push(chunk: Buffer): Generator<FileRecord> {
    const buffer = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let i = this.scanned;
    for (; i < buffer.length; i++) {
      const byte = buffer[i]!;
      if (this.elementStart === -1) {
        if (byte === 0x0a) this.line += 1;
        if (
          byte === 0x20 ||
          byte === 0x0a ||
          byte === 0x0d ||
          byte === 0x09 ||
          byte === 0x2c ||
          byte === 0x5b ||
          byte === 0x5d ||
          byte === 0xef ||
          byte === 0xbb ||
          byte === 0xbf
        )
          continue;
        this.elementStart = i;
        this.elementLine = this.line;
        this.depth = 0;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === 0x5c) this.escaped = true;
        else if (byte === 0x22) this.inString = false;
        else if (byte === 0x0a) this.line += 1;
        continue;
      }
      if (byte === 0x0a) this.line += 1;
      if (byte === 0x22) this.inString = true;
      else if (byte === 0x7b || byte === 0x5b) this.depth += 1;
      else if (byte === 0x7d || byte === 0x5d) this.depth -= 1;
      // An element ends when its braces close, or at a top-level comma (a stray scalar).
      const closed = this.depth === 0 && (byte === 0x7d || byte === 0x5d);
      const separated = this.depth === 0 && byte === 0x2c;
      if (this.depth < 0 || closed || separated) {
        const stop = closed ? i + 1 : i;
        yield this.emit(buffer, stop);
        if (this.depth < 0) this.depth = 0;
      }
    }
    // Keep only the current element's bytes (or none) for the next chunk.
    const keepFrom = this.elementStart === -1 ? buffer.length : this.elementStart;
    this.pending = buffer.subarray(keepFrom);
    this.pendingOffset += keepFrom;
    this.scanned = i - keepFrom;
    if (this.elementStart !== -1) this.elementStart = 0;
  }

  *finish(): Generator<FileRecord> {
    if (this.elementStart !== -1 && this.pending.length > 0) yield this.emit(this.pending, this.pending.length);
  }

  private emit(buffer: Buffer, stop: number): FileRecord {
    const start = this.elementStart;
    this.elementStart = -1;
    this.inString = false;
    this.escaped = false;
    return {
      text: buffer.toString('utf8', start, stop),
      line: this.elementLine,
      offset: this.pendingOffset + start,
      end: this.pendingOffset + stop,
      nextLine: this.line,
    };
  }
}
