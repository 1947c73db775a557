import type { FilePosition, FileRecord } from './export-file.js';

/**
 * Splits a `--jsonArray` export into its elements by scanning bytes (braces, brackets, strings
 * and escapes; UTF-8 continuation bytes never look like ASCII), whatever its line breaks.
 */
export class ArraySplitter {
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
