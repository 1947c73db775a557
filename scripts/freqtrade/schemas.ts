import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * FreqTrade's database schema versions met in public bots: one `.sql` file each in `schemas/`,
 * the CREATE statements exactly as SQLite stored them in real bot databases (S04, 2020.6-2020.7,
 * was only ever seen empty). Column count alone does not tell a version apart (S08 and S11 both
 * have 49 trades columns), hence the names.
 */
export const SCHEMA_VERSIONS = {
  S01: '0.18.0',
  S02: '2020.3-2020.4',
  S03: '2020.5',
  S05: '2020.12-2021.7',
  S06: '2021.8-2022.3',
  S07: '2022.4.1-2022.7',
  S08: '2022.8-2022.11',
  S09: '2022.12-2023.8',
  S10: '2023.10-2024.1',
  S11: '2024.2-2024.7.1',
  S12: '2024.8-2024.9',
  S13: '2024.10-2026',
} as const;

export type SchemaVersion = keyof typeof SCHEMA_VERSIONS;

export const ALL_SCHEMA_VERSIONS = Object.keys(SCHEMA_VERSIONS) as SchemaVersion[];
export const NEWEST_SCHEMA: SchemaVersion = 'S13';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schemas');

export interface SchemaStatements {
  /** CREATE TABLE statements, in the file's order. */
  tables: string[];
  /** CREATE INDEX statements: run after the rows are in, which is faster and stores the same schema. */
  indexes: string[];
}

/** The CREATE statements of one version, without the file's comment lines. */
export function schemaStatements(version: SchemaVersion): SchemaStatements {
  const text = readFileSync(path.join(DIR, `${version}-freqtrade-${SCHEMA_VERSIONS[version]}.sql`), 'utf8');
  const statements = text
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n')
    .split(/;\n/)
    .map((s) => s.replace(/;\s*$/, '').trim())
    .filter((s) => s.length > 0);
  return {
    tables: statements.filter((s) => s.startsWith('CREATE TABLE')),
    indexes: statements.filter((s) => s.startsWith('CREATE INDEX')),
  };
}
