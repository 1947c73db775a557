import { isUtf8 } from 'node:buffer';
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { SourcePosition } from './checkpoint.js';
import type { SourceRecord } from './import-source.js';

/** One document's text in a mongoexport file and where it is (bytes of the decompressed text). */
export interface FileRecord extends SplitDocument {
  /**
   * Bytes of the file as stored (compressed, for gzip) read when the document was split: with
   * the file's size, how much of the file is done.
   */
  fileBytesRead: number;
}

/** A document as a splitter cuts it out of the text. */
interface SplitDocument {
  text: string;
  /** 1-based line where the document starts. */
  line: number;
  /** Byte offset where it starts, and just after it ends: a checkpoint resumes at `end`. */
  offset: number;
  end: number;
  /** Line number at `end`. */
  nextLine: number;
  /** Why the document cannot be taken as read (too big, not UTF-8): it becomes a reject. `text` is then its head. */
  error?: string;
}

export type ExportFormat = 'lines' | 'array';

export interface FilePosition {
  offset: number;
  line: number;
}

/** MongoDB's own limit on a document, the default of IMPORT_MAX_DOCUMENT_BYTES. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

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
  options: {
    gzip: boolean;
    format: ExportFormat;
    start: FilePosition;
    maxDocumentBytes?: number;
  },
): AsyncGenerator<FileRecord> {
  // A plain file is read from `start`; a gzip one from its first byte.
  const fileStart = options.gzip ? 0 : options.start.offset;
  const { stream, file } = openText(path, options.gzip, fileStart);
  const max = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  const splitter =
    options.format === 'array' ? new ArraySplitter(options.start, max) : new LineSplitter(options.start, max);
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
      const fileBytesRead = fileStart + file.bytesRead;
      for (const document of splitter.push(chunk)) yield { ...document, fileBytesRead };
    }
    for (const document of splitter.finish()) yield { ...document, fileBytesRead: fileStart + file.bytesRead };
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
  /** IMPORT_MAX_DOCUMENT_BYTES: a longer document is a reject, skipped without being held. */
  maxDocumentBytes: number;
  initial: Extract<SourcePosition, { kind: 'file' }>;
}

/** The documents of a mongoexport file from `from`, as import records (text, position, checkpoint after each). */
export async function* fileRecords(spec: FileReadSpec, from: SourcePosition): AsyncGenerator<SourceRecord> {
  const start = from.kind === 'file' ? { offset: from.offset, line: from.line } : { offset: 0, line: 1 };
  const records = readExportFile(spec.path, {
    gzip: spec.gzip,
    format: spec.format,
    start,
    maxDocumentBytes: spec.maxDocumentBytes,
  });
  for await (const record of records) {
    yield {
      position: `line ${record.line}, byte ${record.offset}`,
      text: record.text,
      ...(record.error === undefined ? {} : { error: record.error }),
      after: { ...spec.initial, offset: record.end, line: record.nextLine },
      sourceBytes: record.fileBytesRead,
    };
  }
}

/** Bytes of a reject's `raw` kept from a document too big to take. */
const HEAD_BYTES = 1024;

/**
 * The bytes of the document being split, gathered across chunks and joined once at its end
 * (joining at every chunk made a long line cost quadratic time). Past `max` bytes only the
 * head is kept and the rest is counted, so a huge document is skipped while streaming.
 */
class DocumentBytes {
  private parts: Buffer[] = [];
  private length = 0;
  private head: Buffer | undefined;

  constructor(private readonly max: number) {}

  add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.length += piece.length;
    if (this.head !== undefined) return;
    // Copied: a chunk's memory must not be kept alive by a small piece of it.
    this.parts.push(Buffer.from(piece));
    if (this.length > this.max) {
      this.head = Buffer.concat(this.parts).subarray(0, HEAD_BYTES);
      this.parts = [];
    }
  }

  /** The whole document (ending with `last`), or its size and head when it is above the limit. */
  take(last: Buffer): { bytes: Buffer } | { size: number; head: Buffer } {
    const size = this.length + last.length;
    const head = this.head;
    const parts = this.parts;
    this.parts = [];
    this.length = 0;
    this.head = undefined;
    if (head !== undefined || size > this.max) {
      return { size, head: head ?? Buffer.concat([...parts, last]).subarray(0, HEAD_BYTES) };
    }
    return { bytes: parts.length === 0 ? last : Buffer.concat([...parts, last]) };
  }
}

/** One document's bytes as split: its text, or a reason it cannot be taken. */
function splitDocument(
  taken: { bytes: Buffer } | { size: number; head: Buffer },
  at: { line: number; offset: number; end: number; nextLine: number },
  max: number,
): SplitDocument | undefined {
  if (!('bytes' in taken)) {
    return {
      ...at,
      text: taken.head.toString('utf8'),
      error: `document of ${taken.size} bytes is above IMPORT_MAX_DOCUMENT_BYTES (${max}); skipped unread`,
    };
  }
  let bytes = taken.bytes;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  const text = bytes.toString('utf8');
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes) + (taken.bytes.length - bytes.length);
    return {
      ...at,
      text,
      error: `invalid UTF-8 at byte ${at.offset + bad} of the file (byte ${bad} of the document, line ${at.line})`,
    };
  }
  if (text.trim() === '') return undefined;
  return { ...at, text };
}

/** Index of the first byte that breaks UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    const [need, min, max] =
      b >= 0xc2 && b <= 0xdf
        ? [1, 0x80, 0xbf]
        : b === 0xe0
          ? [2, 0xa0, 0xbf]
          : b === 0xed
            ? [2, 0x80, 0x9f]
            : b >= 0xe1 && b <= 0xef
              ? [2, 0x80, 0xbf]
              : b === 0xf0
                ? [3, 0x90, 0xbf]
                : b === 0xf4
                  ? [3, 0x80, 0x8f]
                  : b >= 0xf1 && b <= 0xf3
                    ? [3, 0x80, 0xbf]
                    : [0, 0, 0];
    if (need === 0) return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      const [lo, hi] = k === 1 ? [min, max] : [0x80, 0xbf];
      if (c === undefined || c < lo || c > hi) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Splits on newlines; a blank line is skipped but counted. */
class LineSplitter {
  private readonly document: DocumentBytes;
  /** Byte offset where the current line starts. */
  private offset: number;
  private line: number;

  constructor(
    start: FilePosition,
    private readonly max: number,
  ) {
    this.offset = start.offset;
    this.line = start.line;
    this.document = new DocumentBytes(max);
  }

  *push(chunk: Buffer): Generator<SplitDocument> {
    let from = 0;
    for (let newline = chunk.indexOf(0x0a, from); newline !== -1; newline = chunk.indexOf(0x0a, from)) {
      const record = this.end(chunk.subarray(from, newline), 1);
      if (record) yield record;
      from = newline + 1;
    }
    this.document.add(chunk.subarray(from));
  }

  *finish(): Generator<SplitDocument> {
    const record = this.end(Buffer.alloc(0), 0);
    if (record) yield record;
  }

  /** Ends the current line with `last` (its bytes in this chunk) and `newline` bytes after it. */
  private end(last: Buffer, newline: number): SplitDocument | undefined {
    const taken = this.document.take(last);
    const size = 'bytes' in taken ? taken.bytes.length : taken.size;
    const at = {
      line: this.line,
      offset: this.offset,
      end: this.offset + size + newline,
      nextLine: this.line + newline,
    };
    this.offset = at.end;
    this.line = at.nextLine;
    if ('bytes' in taken && taken.bytes.at(-1) === 0x0d) taken.bytes = taken.bytes.subarray(0, -1);
    if (size === 0) return undefined;
    return splitDocument(taken, at, this.max);
  }
}

/**
 * Splits a `--jsonArray` export into its elements by scanning bytes (braces, brackets, strings
 * and escapes; UTF-8 continuation bytes never look like ASCII), whatever its line breaks.
 */
class ArraySplitter {
  private readonly document: DocumentBytes;
  /** Byte offset of the next chunk's first byte. */
  private chunkOffset: number;
  private line: number;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private inElement = false;
  private elementOffset = 0;
  private elementLine = 0;

  constructor(
    start: FilePosition,
    private readonly max: number,
  ) {
    this.chunkOffset = start.offset;
    this.line = start.line;
    this.document = new DocumentBytes(max);
  }

  *push(chunk: Buffer): Generator<SplitDocument> {
    let elementStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (!this.inElement) {
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
        this.inElement = true;
        elementStart = i;
        this.elementOffset = this.chunkOffset + i;
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
        const record = this.emit(chunk.subarray(elementStart, stop), this.chunkOffset + stop);
        if (record) yield record;
        if (this.depth < 0) this.depth = 0;
      }
    }
    if (this.inElement) this.document.add(chunk.subarray(elementStart));
    this.chunkOffset += chunk.length;
  }

  *finish(): Generator<SplitDocument> {
    if (!this.inElement) return;
    const record = this.emit(Buffer.alloc(0), this.chunkOffset);
    if (record) yield record;
  }

  private emit(last: Buffer, end: number): SplitDocument | undefined {
    this.inElement = false;
    this.inString = false;
    this.escaped = false;
    const at = { line: this.elementLine, offset: this.elementOffset, end, nextLine: this.line };
    return splitDocument(this.document.take(last), at, this.max);
  }
}
