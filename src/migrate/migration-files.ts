import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
  /**
   * False for a file whose first line is NO_TRANSACTION_MARKER: its statements run one by one,
   * each committed on its own (CREATE INDEX CONCURRENTLY cannot run in a transaction block).
   */
  transactional: boolean;
  /** Checksums of an earlier text of this file that built the same objects: a landed one is accepted. */
  earlierChecksums: readonly string[];
}

/** The repository's migrations/ folder, found from this file in src/ or dist/. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** A migration file's first line that makes it run outside a transaction (see migrate.ts). */
export const NO_TRANSACTION_MARKER = '-- migrate: no-transaction';

/**
 * 011 and 015 built their indexes inside the migration's transaction, which holds every write to
 * the table for the whole build; they now build them concurrently. An install that applied the
 * old text holds the very same indexes, so its recorded checksum stays valid.
 */
const EARLIER_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  '011': ['c571ca317c78364ed51b43381241b14cdfb12851c3571883307cfc17c85a0303'],
  '015': ['a70071c61cda72af539e1ce7e82c2b1ad84fd87af7f389e62dd9e81de4b92c51'],
};

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

/** Reads NNN_name.sql files in version order; any other .sql name is an error, not skipped. */
export async function readMigrationFiles(dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const fileName of names) {
    const match = FILE_NAME.exec(fileName);
    if (!match?.[1] || !match[2]) {
      throw new Error(`Migration file ${path.join(dir, fileName)} is not named NNN_lower_case_name.sql`);
    }
    const sql = await readFile(path.join(dir, fileName), 'utf8');
    files.push({
      version: match[1],
      name: match[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      transactional: sql.split('\n', 1)[0]?.trim() !== NO_TRANSACTION_MARKER,
      earlierChecksums: EARLIER_CHECKSUMS[match[1]] ?? [],
    });
  }
  const versions = new Set(files.map((file) => file.version));
  if (versions.size !== files.length) throw new Error(`Two migration files in ${dir} share a version number`);
  return files;
}

/**
 * A no-transaction file's statements, split at the semicolons outside comments, quoted strings
 * and quoted names; comments are dropped. Dollar-quoted bodies are refused rather than guessed.
 */
export function splitStatements(sql: string, fileName: string): string[] {
  const statements: string[] = [];
  let current = '';
  let i = 0;
  while (i < sql.length) {
    const char = sql[i]!;
    if (char === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      continue;
    }
    if (char === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new Error(`Migration ${fileName}: a /* comment is not closed`);
      i = end + 2;
      current += ' ';
      continue;
    }
    if (char === '$' && /^\$[A-Za-z_]*\$/.test(sql.slice(i)) && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')) {
      throw new Error(`Migration ${fileName}: a no-transaction migration cannot hold dollar-quoted text`);
    }
    if (char === "'" || char === '"') {
      let end = i + 1;
      for (;;) {
        end = sql.indexOf(char, end);
        if (end === -1) throw new Error(`Migration ${fileName}: a ${char} quote is not closed`);
        if (sql[end + 1] === char)
          end += 2; // a doubled quote stands for itself
        else break;
      }
      current += sql.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (char === ';') {
      if (current.trim()) statements.push(current.trim());
      current = '';
    } else {
      current += char;
    }
    i += 1;
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}
