import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

/** The repository's migrations/ folder, found from this file in src/ or dist/. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

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
    files.push({ version: match[1], name: match[2], sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  const versions = new Set(files.map((file) => file.version));
  if (versions.size !== files.length) throw new Error(`Two migration files in ${dir} share a version number`);
  return files;
}
