import { parentPort, workerData } from 'node:worker_threads';
import type { SourcePosition } from './checkpoint.js';
import { fileRecords, type FileReadSpec } from './export-file.js';
import type { SourceRecord } from './import-source.js';
import type { MappedBatch } from './import-source.js';
import { mapRecords } from './map-records.js';
import { importTargets, type CollectionKind } from './targets.js';

/**
 * Worker thread of a file import: reads the export from the checkpoint, parses and maps each
 * document, and posts batches to the importing thread, at most `ahead` batches before the
 * importer asks for more (so memory stays bounded whatever the file size). The importing
 * thread is left free to answer PostgreSQL at once, and parsing runs on another core.
 */
export interface ParseWorkerInput {
  spec: FileReadSpec;
  from: SourcePosition;
  collection: CollectionKind;
  batchSize: number;
  ahead: number;
}

/** A batch as posted: items carry their raw text, not a function. */
interface WireBatch extends Omit<MappedBatch<unknown>, 'items'> {
  items: { row: unknown; position: string; raw: string }[];
}

export type WorkerMessage = { type: 'batch'; batch: WireBatch } | { type: 'end' } | { type: 'error'; message: string };

const port = parentPort!;
const input = workerData as ParseWorkerInput;
const map = importTargets[input.collection].map;
let credits = input.ahead;
let wake: (() => void) | undefined;
port.on('message', () => {
  credits += 1;
  wake?.();
});

const post = async (records: SourceRecord[]) => {
  const mapped = mapRecords(input.collection, map, records);
  while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
  credits -= 1;
  const batch: WireBatch = {
    ...mapped,
    items: mapped.items.map((item) => ({ row: item.row, position: item.position, raw: item.raw() })),
  };
  port.postMessage({ type: 'batch', batch } satisfies WorkerMessage);
};

try {
  let records: SourceRecord[] = [];
  for await (const record of fileRecords(input.spec, input.from)) {
    records.push(record);
    if (records.length >= input.batchSize) {
      await post(records);
      records = [];
    }
  }
  if (records.length > 0) await post(records);
  port.postMessage({ type: 'end' } satisfies WorkerMessage);
} catch (error) {
  port.postMessage({
    type: 'error',
    message: error instanceof Error ? error.message : String(error),
  } satisfies WorkerMessage);
}
port.close();
