import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPORT = path.resolve(fileURLToPath(import.meta.url), '../../../test-artifacts/reliability.jsonl');

/** One line per fault run, for RELIABILITY.md: what was done, how many runs, what was lost. */
export function reliability(row: {
  fault: string;
  runs: number;
  rowsLost: number;
  rowsDuplicated: number;
  recoveryMs: number;
  sourceRows: number;
}): void {
  mkdirSync(path.dirname(REPORT), { recursive: true });
  appendFileSync(REPORT, `${JSON.stringify({ ...row, at: new Date().toISOString() })}\n`);
  process.stdout.write(`# reliability ${JSON.stringify(row)}\n`);
}
