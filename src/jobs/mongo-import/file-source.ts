import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PermanentJobError, errorMessage } from '../../errors.js';
import { fileImportKey } from '../../import/checkpoint.js';
import type { ImportSource } from '../../import/import-source.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, detectFormat, fileRecords, isGzip, type FileReadSpec } from './export-file.js';
import { workerBatches } from './worker-batches.js';

/** A mongoexport file (one document per line or --jsonArray, plain or .gz) as an import source. */
export async function openFileSource(
  collection: string,
  path: string,
  maxDocumentBytes: number = DEFAULT_MAX_DOCUMENT_BYTES,
): Promise<ImportSource> {
  const absolute = resolve(path);
  let size: number;
  let mtimeMs: number;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
    mtimeMs = Math.trunc(info.mtimeMs);
  } catch (error) {
    throw new PermanentJobError(
      `mongo-import ${collection}: cannot read export file ${absolute}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const gzip = await isGzip(absolute);
  const format = await detectFormat(absolute, gzip);
  let rawBytes = 0;
  const initial = { kind: 'file', offset: 0, line: 1, format, size, mtimeMs } as const;
  const spec: FileReadSpec = { path: absolute, gzip, format, maxDocumentBytes, initial };
  const onRawBytes = (bytes: number) => (rawBytes = bytes);
  return {
    key: fileImportKey(collection, absolute),
    ref: absolute,
    initial,
    canResume: (saved) =>
      saved.kind === 'file' && saved.size === size && saved.mtimeMs === mtimeMs && saved.format === format,
    describe: (position) => (position.kind === 'file' ? `line ${position.line} (byte ${position.offset})` : 'start'),
    estimateTotal: (read) => (rawBytes > 0 ? Math.max(read, Math.round((read * size) / rawBytes)) : undefined),
    records: (from) => fileRecords(spec, from, onRawBytes),
    batches: (from, kind, batchSize) => workerBatches(spec, from, kind, batchSize, onRawBytes),
  };
}
