import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { ArraySplitter } from './array-splitter.js';
import { LineSplitter } from './line-splitter.js';

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

export const FILE_START: FilePosition = { offset: 0, line: 1 };

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
