import type { SourcePosition } from './checkpoint.js';
import { readExportFile, type ExportFormat } from './export-file.js';
import type { SourceRecord } from './import-source.js';

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
