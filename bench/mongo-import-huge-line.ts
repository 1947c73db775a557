import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readExportFile } from '../src/import/export-file.js';

/**
 * Reading an export file that holds a huge line: a user, one document of BENCH_HUGE_MB
 * (default 600) MB, another user. The line must be skipped as a reject in time linear in its
 * length and with bounded memory (IMPORT_MAX_DOCUMENT_BYTES, default 16 MiB); a 15 MB line,
 * under the limit, is read whole. Each file is read in a child process of its own, whose peak
 * RSS is reported.
 */
const HUGE_MB = Number(process.env.BENCH_HUGE_MB ?? '600');
const MB = 1024 * 1024;

if (process.argv[2] === 'read') await read(process.argv[3]!);
else await main();

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ctp-bench-huge-'));
  try {
    for (const mb of [15, HUGE_MB]) {
      const file = join(dir, `line-${mb}.json`);
      await writeFile(file, mb);
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'read', file], {
        encoding: 'utf8',
      });
      if (child.status !== 0) throw new Error(`reader failed: ${child.stderr}`);
      process.stdout.write(`${mb} MB line: ${child.stdout.trim()}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function writeFile(file: string, mb: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('{"_id": 1, "email": "a@example.com"}\n{"_id": 2, "email": "huge@example.com", "name": "');
  const block = Buffer.alloc(MB, 'x');
  for (let i = 0; i < mb; i++) if (!out.write(block)) await once(out, 'drain');
  out.end('"}\n{"_id": 3, "email": "b@example.com"}\n');
  await once(out, 'finish');
}

async function read(file: string): Promise<void> {
  const started = performance.now();
  const records: string[] = [];
  for await (const record of readExportFile(file, { gzip: false, format: 'lines', start: { offset: 0, line: 1 } })) {
    records.push(record.error ?? `${record.text.length} characters`);
  }
  const seconds = (performance.now() - started) / 1000;
  const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`${seconds.toFixed(2)} s, peak RSS ${peakMb} MB; line 2: ${records[1]}\n`);
}
