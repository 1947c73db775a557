import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PermanentJobError, errorMessage } from '../errors.js';
import { fileImportKey, type SourcePosition } from './checkpoint.js';
import type { ImportSource } from './import-source.js';
import type { MappedBatch } from './import-source.js';
import type { CollectionKind } from './targets.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, detectFormat, fileRecords, isGzip, type FileReadSpec } from './export-file.js';
import type { ParseWorkerInput, WorkerMessage } from './parse-worker.js';

/**
 * A mongoexport file (one document per line or --jsonArray, plain or .gz) as an import source.
 * Its batches are read, parsed and mapped in a worker thread (parse-worker.ts); its progress
 * estimate scales the documents read by the share of the file's bytes they came from.
 */
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
  const initial = { kind: 'file', offset: 0, line: 1, format, size, mtimeMs } as const;
  const spec: FileReadSpec = { path: absolute, gzip, format, maxDocumentBytes, initial };
  return {
    key: fileImportKey(collection, absolute),
    ref: absolute,
    initial,
    canResume: (saved) =>
      saved.kind === 'file' && saved.size === size && saved.mtimeMs === mtimeMs && saved.format === format,
    describe: (position) => (position.kind === 'file' ? `line ${position.line} (byte ${position.offset})` : 'start'),
    estimateTotal: (read, sourceBytes) =>
      sourceBytes !== undefined && sourceBytes > 0
        ? Math.max(read, Math.round((read * size) / sourceBytes))
        : undefined,
    records: (from) => fileRecords(spec, from),
    batches: (from, kind, batchSize) => workerBatches(spec, from, kind, batchSize),
  };
}

/** Batches parsed ahead by the worker: two, so one is always ready while one is written. */
const AHEAD = 2;

/**
 * The worker's young generation, kept small: what it allocates per document dies at once, and
 * V8's default let the process's peak RSS reach 259 MB at 1.1 million documents (214 MB with
 * 4 MB, for the same CPU time). The old generation keeps V8's default, for big documents.
 */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4 };

/**
 * The worker's entry next to this module: parse-worker.js when built. Run from source under tsx
 * (tests, benchmarks), a one-line entry registers tsx in the worker and imports parse-worker.ts:
 * Node 20 does not apply the `--import tsx` loader that workers inherit (nodejs/node#47747).
 */
function startWorker(input: ParseWorkerInput): Worker {
  const options = { workerData: input, resourceLimits: RESOURCE_LIMITS };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./parse-worker.js', import.meta.url), options);
  const entry = JSON.stringify(new URL('./parse-worker.ts', import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return new Worker(`import(${tsx}).then((api) => { api.register(); return import(${entry}); });`, {
    ...options,
    eval: true,
  });
}

/**
 * The mapped batches of a file from `from`, parsed and mapped in a worker thread
 * (parse-worker.ts). Ending the iteration early (an abort, a failed write) stops the worker.
 * A read error in the worker (a corrupt gzip stream, ...) is thrown here, naming the file.
 */
async function* workerBatches(
  spec: FileReadSpec,
  from: SourcePosition,
  collection: CollectionKind,
  batchSize: number,
): AsyncGenerator<MappedBatch<unknown>> {
  const input: ParseWorkerInput = { spec, from, collection, batchSize, ahead: AHEAD };
  const worker = startWorker(input);
  const queue: WorkerMessage[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  worker.on('message', (message: WorkerMessage) => {
    queue.push(message);
    wake?.();
  });
  worker.on('error', (error) => {
    failure = error;
    wake?.();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`parse worker for ${spec.path} exited (code ${code}) before the end of the file`);
    wake?.();
  });
  try {
    for (;;) {
      const message = queue.shift();
      if (message === undefined) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (message.type === 'end') return;
      if (message.type === 'error') throw new Error(`reading ${spec.path}: ${message.message}`);
      worker.postMessage('next');
      const { batch } = message;
      yield {
        ...batch,
        items: batch.items.map((item) => ({ row: item.row, position: item.position, raw: () => item.raw })),
      };
    }
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}
