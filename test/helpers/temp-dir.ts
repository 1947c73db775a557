import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fresh temporary folder and its removal. */
export function tempDir(label: string): { path: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `ctp-etl-${label}-`));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
