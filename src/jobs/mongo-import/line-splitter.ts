import type { FilePosition, FileRecord } from './export-file.js';

/** Splits on newlines; a blank line is skipped but counted. */
export class LineSplitter {
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
